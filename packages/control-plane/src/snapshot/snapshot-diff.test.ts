import { create } from "@bufbuild/protobuf";
import { KeyStatus, ResourceSchema, TeamSchema, UserSchema, VirtualKeySchema, type Resource } from "@tollgate/proto";
import { describe, expect, it } from "vitest";
import { diffResources } from "./snapshot-diff.js";

const team = (id: string, hash: string): Resource => create(ResourceSchema, { key: `team/${id}`, hash, body: { case: "team", value: create(TeamSchema, { id }) } });
const key = (id: string, hash: string, status: KeyStatus): Resource =>
  create(ResourceSchema, { key: `virtualKey/${id}`, hash, body: { case: "virtualKey", value: create(VirtualKeySchema, { id, status }) } });
const user = (id: string, hash: string, active: boolean): Resource => create(ResourceSchema, { key: `user/${id}`, hash, body: { case: "user", value: create(UserSchema, { id, active }) } });

describe("diffResources", () => {
  it("sends changed and new resources, removes what is gone, and puts revocations first", () => {
    const current = new Map(
      [team("t1", "h1"), team("t2", "new"), key("k1", "k", KeyStatus.ACTIVE), key("k2", "x", KeyStatus.REVOKED), user("u1", "u", false), team("t4", "h4")].map((r) => [r.key, r]),
    );
    const held = new Map([
      ["team/t1", "h1"],
      ["team/t2", "old"],
      ["virtualKey/k1", "k"],
      ["team/t3", "gone"],
    ]);
    const delta = diffResources(current, held);
    expect(delta.upserts.map((r) => r.key)).toEqual(["virtualKey/k2", "user/u1", "team/t2", "team/t4"]);
    expect(delta.removals).toEqual(["team/t3"]);
  });

  it("is empty when the node holds exactly the current resources", () => {
    const current = new Map([team("t1", "h1")].map((r) => [r.key, r]));
    expect(diffResources(current, new Map([["team/t1", "h1"]]))).toEqual({ upserts: [], removals: [] });
  });
});
