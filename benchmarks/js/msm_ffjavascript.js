// Times ffjavascript's multiExpAffine (the MSM inside snarkjs) on bases and scalars written by
// benchmarks/msm.py: bases in ffjavascript's internal layout (affine, Montgomery, little-endian:
// the same bytes as our arrays and as zkey files), scalars as 32-byte little-endian integers.
// Usage: node msm_ffjavascript.js G1|G2 bases.bin scalars.bin repeats
const fs = require("fs");
const { buildBn128 } = require("ffjavascript");

async function main() {
    const [group, basesPath, scalarsPath, repeatsArg] = process.argv.slice(2);
    const repeats = parseInt(repeatsArg || "1", 10);
    const curve = await buildBn128();
    const G = group === "G2" ? curve.G2 : curve.G1;
    const bases = new Uint8Array(fs.readFileSync(basesPath));
    const scalars = new Uint8Array(fs.readFileSync(scalarsPath));
    let best = Infinity;
    let res;
    for (let i = 0; i < repeats; i++) {
        const t0 = process.hrtime.bigint();
        res = await G.multiExpAffine(bases, scalars, false, "");
        const dt = Number(process.hrtime.bigint() - t0) / 1e9;
        best = Math.min(best, dt);
    }
    const aff = G.toObject(G.toAffine(res));
    const str = (v) => (Array.isArray(v) ? v.map(str) : v.toString());
    process.stdout.write(JSON.stringify({ seconds: best, point: str(aff) }) + "\n");
    await curve.terminate();
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
