// Checks what the built package ships and measures it:
// - the runtime JS imports only this package's dependencies, and bundles no server code;
// - the declarations import only @trpc/* (the router's types are inlined);
// - sizes: the package's own JS, and what an app pays for it, bundled and minified with its
//   dependencies. `--json` prints the measurements alone.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const dependencies = Object.keys(pkg.dependencies ?? {});
const problems = [];
if (!existsSync(join(root, "dist/index.js"))) {
  console.error("dist/ is missing: run `pnpm --filter @odyssey/client build` first");
  process.exit(1);
}

const specifiers = (source) =>
  [...source.matchAll(/(?:from\s+|require\(\s*|import\(\s*)["']([^"']+)["']/g)].map((m) => m[1]);
const packageOf = (specifier) =>
  specifier
    .split("/")
    .slice(0, specifier.startsWith("@") ? 2 : 1)
    .join("/");
const serverCode = /zod|drizzle|postgres|pglite|hono|@odyssey\//;

for (const file of ["dist/index.js", "dist/index.cjs"]) {
  const source = readFileSync(join(root, file), "utf8");
  for (const specifier of specifiers(source))
    if (!dependencies.includes(packageOf(specifier)))
      problems.push(`${file} imports ${specifier}, not a dependency`);
  if (serverCode.test(source.replace(/^\s*\/\/.*$/gm, ""))) problems.push(`${file} mentions server code`);
}
for (const file of ["dist/index.d.ts", "dist/index.d.cts"]) {
  const source = readFileSync(join(root, file), "utf8");
  for (const specifier of specifiers(source))
    if (!specifier.startsWith("@trpc/"))
      problems.push(`${file} imports ${specifier}: its types would not resolve`);
}

const app = await build({
  stdin: { contents: 'export { createOdysseyClient } from "./dist/index.js";', resolveDir: root },
  bundle: true,
  minify: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  write: false,
  metafile: true,
  logLevel: "silent",
});
const bundled = Object.keys(app.metafile.inputs).filter((input) => serverCode.test(input));
if (bundled.length) problems.push(`an app bundling the client would also bundle: ${bundled.join(", ")}`);

const size = (bytes) => ({ bytes: bytes.length, gzip: gzipSync(bytes).length });
const sizes = {
  "dist/index.js": size(readFileSync(join(root, "dist/index.js"))),
  "dist/index.cjs": size(readFileSync(join(root, "dist/index.cjs"))),
  "app bundle (minified, with @trpc/client and superjson)": size(app.outputFiles[0].contents),
};

if (process.argv.includes("--json")) {
  console.log(JSON.stringify({ sizes, problems }, null, 2));
} else {
  for (const [name, { bytes, gzip }] of Object.entries(sizes))
    console.log(`${name}: ${(bytes / 1024).toFixed(1)} KiB, ${(gzip / 1024).toFixed(1)} KiB gzipped`);
  for (const problem of problems) console.error(`problem: ${problem}`);
}
process.exit(problems.length ? 1 : 0);
