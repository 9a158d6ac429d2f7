// A JavaScript client's signing, written from docs/api.md alone with circomlibjs 0.1.7: reads
// {"chain_id", "rollup_address", "key", "requests": [{"type": name, ...fields}]} on stdin, writes
// the signed requests as the API takes them (integers as decimal strings) with their message hash.
import { buildEddsa, buildPoseidon } from "circomlibjs";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const eddsa = await buildEddsa();
const poseidon = await buildPoseidon();
const F = poseidon.F;
const R = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;
const H = (xs) => F.toObject(poseidon(xs.map((x) => ((BigInt(x) % R) + R) % R)));

// the signed fields of each request type, in message order (docs/api.md, "Signing")
const TYPES = {
  withdrawal: [2, ["account", "amount", "to", "nonce", "expiry"]],
  transfer: [3, ["sender", "receiver", "amount", "nonce", "expiry"]],
  order: [4, ["account", "asset", "side", "size", "price", "order_id", "expiry", "flags"]],
  cancel: [6, ["account", "asset", "order_id"]],
  cancel_all: [16, ["account", "asset", "up_to_order_id", "expiry"]],
};

const DOMAIN_TAG = BigInt("0x" + Buffer.from("zkderiv/v1").toString("hex"));
const domain = H([DOMAIN_TAG, BigInt(input.chain_id), BigInt(input.rollup_address)]);
const key = Buffer.from(input.key, "hex");

const out = input.requests.map((req) => {
  const [type, names] = TYPES[req.type];
  const fields = names.map((n) => BigInt(req[n] ?? 0));
  while (fields.length < 8) fields.push(0n);
  const msg = H([domain, BigInt(type), ...fields]);
  const sig = eddsa.signPoseidon(key, F.e(msg));
  const signed = { type };
  names.forEach((n, i) => (signed[n] = fields[i].toString()));
  signed.sig = [[F.toObject(sig.R8[0]).toString(), F.toObject(sig.R8[1]).toString()],
    sig.S.toString()];
  return { domain: domain.toString(), message: msg.toString(), request: signed };
});
process.stdout.write(JSON.stringify(out));
