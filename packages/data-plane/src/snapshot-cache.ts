/**
 * The node's last good policy snapshot on disk, so a node restarted while the control plane is
 * down still serves. The file holds a full `PolicyUpdate` (resources with their hashes, version,
 * pepper) encrypted with AES-256-GCM under a key derived from the node token: provider
 * credentials and the pepper are never on disk in the clear. Writes go to a temp file, then rename.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { PolicyUpdateSchema, type PolicyUpdate } from "@tollgate/proto";

const MAGIC = Buffer.from("TGS1");
const AAD = Buffer.from("tollgate-snapshot-v1");
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Derives the snapshot encryption key from the node token: sha256("tollgate-snapshot:" + token). */
export function deriveSnapshotKey(nodeToken: string): Buffer {
  return createHash("sha256").update(`tollgate-snapshot:${nodeToken}`).digest();
}

/** Encrypts a full policy update: MAGIC | iv | tag | ciphertext. */
export function sealSnapshot(update: PolicyUpdate, key: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(AAD);
  const body = Buffer.concat([cipher.update(toBinary(PolicyUpdateSchema, update)), cipher.final()]);
  return Buffer.concat([MAGIC, iv, cipher.getAuthTag(), body]);
}

/** Decrypts what `sealSnapshot` wrote; throws when the file is foreign, corrupt or under another key. */
export function openSnapshot(bytes: Buffer, key: Buffer): PolicyUpdate {
  if (bytes.length < MAGIC.length + IV_BYTES + TAG_BYTES || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new Error("not a Tollgate snapshot file");
  }
  const iv = bytes.subarray(MAGIC.length, MAGIC.length + IV_BYTES);
  const tag = bytes.subarray(MAGIC.length + IV_BYTES, MAGIC.length + IV_BYTES + TAG_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", key, iv);
  decipher.setAAD(AAD);
  decipher.setAuthTag(tag);
  const plain = Buffer.concat([decipher.update(bytes.subarray(MAGIC.length + IV_BYTES + TAG_BYTES)), decipher.final()]);
  return fromBinary(PolicyUpdateSchema, plain);
}

/** Reads and writes one node's encrypted snapshot file; writes are serialized, the last one wins. */
export class SnapshotCache {
  private readonly key: Buffer;
  private writing: Promise<void> = Promise.resolve();

  /** `path` is the snapshot file; `nodeToken` derives its key. */
  constructor(
    readonly path: string,
    nodeToken: string,
  ) {
    this.key = deriveSnapshotKey(nodeToken);
  }

  /** The cached snapshot, or null when there is none; a file that cannot be opened throws. */
  async load(): Promise<PolicyUpdate | null> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
    return openSnapshot(bytes, this.key);
  }

  /** Queues an atomic write (temp file + rename) of `update`; resolves when it is on disk. */
  save(update: PolicyUpdate): Promise<void> {
    const next = this.writing.then(async () => {
      await mkdir(dirname(this.path), { recursive: true });
      const tmp = `${this.path}.${process.pid}.tmp`;
      await writeFile(tmp, sealSnapshot(update, this.key), { mode: 0o600 });
      await rename(tmp, this.path);
    });
    this.writing = next.catch(() => undefined);
    return next;
  }
}
