/**
 * Import rules of the house (the layering of the architecture), checked by dependency-cruiser in `npm run check`
 * (`npm run lint:imports`). Apps (control-plane, data-plane, cli) import libraries (policy, proto,
 * providers, mock-provider); libraries never import apps; the two planes meet only through `proto`;
 * `policy` is the leaf: nothing internal, no Node built-in; a package is imported by its name
 * (its `src/index.ts`), never by a path into its `src`; no cycles. Type-only imports count.
 */
const APPS = "(control-plane|data-plane|cli)";
const LIBRARIES = "(policy|proto|providers|mock-provider)";
const TEST_FILE = "\\.test\\.ts$";

module.exports = {
  forbidden: [
    {
      name: "planes-meet-only-through-proto",
      comment: "The control plane and the data plane never import each other: what they share is a message in packages/proto.",
      severity: "error",
      from: { path: "^packages/control-plane/" },
      to: { path: "^packages/data-plane/" },
    },
    {
      name: "planes-meet-only-through-proto-reverse",
      comment: "The data plane never imports the control plane: what they share is a message in packages/proto.",
      severity: "error",
      from: { path: "^packages/data-plane/" },
      to: { path: "^packages/control-plane/" },
    },
    {
      name: "libraries-never-import-apps",
      comment: `A library (${LIBRARIES}) never imports an app ${APPS}: dependencies point from apps to libraries.`,
      severity: "error",
      from: { path: `^packages/${LIBRARIES}/` },
      to: { path: `^packages/${APPS}/` },
    },
    {
      name: "only-the-cli-is-the-cli",
      comment: "No other package imports the cli: it is the outermost app that composes the others.",
      severity: "error",
      from: { path: "^packages/", pathNot: "^packages/cli/" },
      to: { path: "^packages/cli/" },
    },
    {
      name: "policy-imports-nothing-internal",
      comment: "packages/policy is the leaf: it imports no other package of the repository.",
      severity: "error",
      from: { path: "^packages/policy/" },
      to: { path: "^packages/", pathNot: "^packages/policy/" },
    },
    {
      name: "policy-imports-no-node-builtin",
      // node:crypto included: policy uses none today; a hash or a random source is passed in by the caller.
      comment: "packages/policy has no I/O, no clock and no env: its code imports no Node built-in module at all. Its tests may.",
      severity: "error",
      from: { path: "^packages/policy/", pathNot: TEST_FILE },
      to: { dependencyTypes: ["core"] },
    },
    {
      name: "import-packages-by-name",
      comment: "Another package is imported by its name (`@tollgate/x`), never by a relative path into it.",
      severity: "error",
      from: { path: "^(packages/[^/]+|test|scripts)/" },
      to: { path: "^packages/", pathNot: "^$1/", dependencyTypes: ["local"], dependencyTypesNot: ["aliased"] },
    },
    {
      name: "import-only-a-package-index",
      comment: "What another package offers is its src/index.ts: no import reaches another file of its src.",
      severity: "error",
      from: { path: "^(packages/[^/]+|test|scripts)/" },
      to: { path: "^packages/[^/]+/", pathNot: ["^packages/[^/]+/src/index\\.ts$", "^$1/"] },
    },
    {
      name: "no-cycles",
      comment: "No import cycle, inside a package or across packages (type-only imports included).",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "no-unresolvable-imports",
      comment: "Every relative or internal import resolves to a file (a typo in a path fails here, not at run time).",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(node_modules|dist|coverage)/" },
    tsPreCompilationDeps: true,
    combinedDependencies: false,
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      mainFields: ["module", "main", "types", "typings"],
      extensions: [".ts", ".js", ".mjs", ".cjs", ".json", ".d.ts"],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
