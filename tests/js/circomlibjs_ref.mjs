// Reference oracle for the Python tests and benchmarks: reads a JSON array of requests on stdin,
// answers each with circomlibjs 0.1.7 (and blake-hash, the BLAKE-512 it uses), writes a JSON array.
// Numbers travel as decimal strings, byte strings as hex.
import { buildBabyjub, buildEddsa, buildPoseidon } from "circomlibjs";
import createBlakeHash from "blake-hash";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const requests = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const babyJub = await buildBabyjub();
const eddsa = await buildEddsa();
const poseidon = await buildPoseidon();
const F = babyJub.F;

const toPoint = (p) => [F.e(BigInt(p[0])), F.e(BigInt(p[1]))];
const fromPoint = (p) => [F.toObject(p[0]).toString(), F.toObject(p[1]).toString()];
const hex = (b) => Buffer.from(b).toString("hex");

function perSecond(fn, minMs) {
  fn();
  let n = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < minMs) {
    fn();
    n += 1;
    elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  }
  return (n * 1000) / elapsed;
}

function answer(q) {
  switch (q.op) {
    case "poseidon":
      return F.toObject(poseidon(q.inputs.map(BigInt))).toString();
    case "blake512":
      return hex(createBlakeHash("blake512").update(Buffer.from(q.hex, "hex")).digest());
    case "prv2pub":
      return fromPoint(eddsa.prv2pub(Buffer.from(q.key, "hex")));
    case "sign": {
      const sig = eddsa.signPoseidon(Buffer.from(q.key, "hex"), F.e(BigInt(q.msg)));
      return { R8: fromPoint(sig.R8), S: sig.S.toString() };
    }
    case "verify":
      return eddsa.verifyPoseidon(
        F.e(BigInt(q.msg)),
        { R8: toPoint(q.R8), S: BigInt(q.S) },
        toPoint(q.A),
      );
    case "mul":
      return fromPoint(babyJub.mulPointEscalar(toPoint(q.p), BigInt(q.e)));
    case "add":
      return fromPoint(babyJub.addPoint(toPoint(q.p), toPoint(q.q)));
    case "in_curve":
      return babyJub.inCurve(toPoint(q.p));
    case "in_subgroup":
      return babyJub.inSubgroup(toPoint(q.p));
    case "pack":
      return hex(babyJub.packPoint(toPoint(q.p)));
    case "unpack": {
      const p = babyJub.unpackPoint(Buffer.from(q.hex, "hex"));
      return p === null ? null : fromPoint(p);
    }
    case "bench": {
      const ms = q.ms || 1000;
      const key = Buffer.alloc(32, 7);
      const msg = F.e(12345n);
      const sig = eddsa.signPoseidon(key, msg);
      const pub = eddsa.prv2pub(key);
      const fns = {
        poseidon2: () => poseidon([1n, 2n]),
        poseidon5: () => poseidon([1n, 2n, 3n, 4n, 5n]),
        eddsa_sign: () => eddsa.signPoseidon(key, msg),
        eddsa_verify: () => eddsa.verifyPoseidon(msg, sig, pub),
      };
      return perSecond(fns[q.name], ms);
    }
    default:
      throw new Error(`unknown op ${q.op}`);
  }
}

const out = requests.map((q) => {
  try {
    return answer(q);
  } catch (e) {
    return { error: String(e && e.message ? e.message : e) };
  }
});
process.stdout.write(JSON.stringify(out));
