import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

// Summarises a V8 .cpuprofile (from `pnpm bench --profile`): where the server's CPU time went,
// by function and by package. Usage: node --import tsx bench/profile.ts <file-or-folder> [top]

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

function latest(path: string): string {
  if (!statSync(path).isDirectory()) return path;
  const files = readdirSync(path)
    .filter((f) => f.endsWith(".cpuprofile"))
    .map((f) => join(path, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (!files[0]) throw new Error(`No .cpuprofile in ${path}`);
  return files[0];
}

function packageOf(url: string): string {
  if (!url) return "(native/gc/idle)";
  const match = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (match?.[1]) return match[1];
  if (url.startsWith("node:")) return "node core";
  if (url.includes("/dist/")) return "odyssey (dist)";
  return url;
}

const file = latest(process.argv[2] ?? "bench/results");
const top = Number(process.argv[3] ?? 30);
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
profile.samples.forEach((id, i) => {
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const isIdle = (id: number) => byId.get(id)?.callFrame.functionName === "(idle)";
// Percentages are of busy time: idle samples are left out.
const total = [...self].filter(([id]) => !isIdle(id)).reduce((a, [, t]) => a + t, 0);

const byFunction = new Map<string, number>();
const byPackage = new Map<string, number>();
for (const [id, time] of self) {
  if (isIdle(id)) continue;
  const frame = byId.get(id)?.callFrame;
  if (!frame) continue;
  const name = `${frame.functionName || "(anonymous)"} ${frame.url.split("/").slice(-2).join("/")}:${frame.lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + time);
  const pkg = packageOf(frame.url);
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + time);
}

const pct = (t: number) => `${((t / total) * 100).toFixed(1).padStart(5)}%`;
const show = (title: string, map: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [name, time] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${pct(time)}  ${name}`);
};
console.log(`${file}: ${(total / 1e6).toFixed(1)} s busy`);
show("Self time by package", byPackage);
show("Self time by function", byFunction);
