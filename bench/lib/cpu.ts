import { readdirSync, readFileSync } from "node:fs";

// Where a measured phase's CPU went, read from /proc: the server process, Postgres, this process
// and the idle share of the machine. Postgres counts only when its server runs on this machine.

/** Clock ticks per second in /proc (USER_HZ, 100 on Linux). */
const TICK_MICROS = 10_000;

/** The fields of /proc/<pid>/stat after the command name, which may itself hold spaces. */
function statFields(pid: number | string): string[] {
  const line = readFileSync(`/proc/${pid}/stat`, "utf8");
  return line.slice(line.lastIndexOf(")") + 2).split(" ");
}

/**
 * CPU time (user + system) a process has used so far, in microseconds. With `reaped`, also that
 * of its children that have exited and been waited for.
 */
export function cpuMicrosOf(pid: number | string, { reaped = false } = {}): number {
  // utime, stime, cutime and cstime are fields 14 to 17 of the whole line.
  const [utime, stime, cutime, cstime] = statFields(pid).slice(11, 15).map(Number);
  const own = (utime ?? Number.NaN) + (stime ?? Number.NaN);
  return (reaped ? own + (cutime ?? Number.NaN) + (cstime ?? Number.NaN) : own) * TICK_MICROS;
}

/**
 * CPU time of every Postgres process on this machine so far, in microseconds, or null when there
 * is none. The postmaster's reaped children count too, so a backend that exits within a phase
 * keeps its share.
 */
export function postgresCpuMicros(): number | null {
  let total = 0;
  let found = false;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() !== "postgres") continue;
      total += cpuMicrosOf(entry, { reaped: true });
      found = true;
    } catch {
      // The process exited while the list was read.
    }
  }
  return found ? total : null;
}

/** Busy and idle time of the whole machine so far, in ticks summed over its cores. */
function machineTicks(): { busy: number; idle: number } {
  const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0]?.split(/\s+/).slice(1).map(Number) ?? [];
  // user nice system idle iowait irq softirq steal: idle and iowait are the idle ones.
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = cpu;
  return { busy: user + nice + system + irq + softirq + steal, idle: idle + iowait };
}

interface Reading {
  server: number | null;
  postgres: number | null;
  self: number;
  machine: { busy: number; idle: number };
}

function read(serverPid: number | undefined): Reading {
  let server: number | null = null;
  if (serverPid !== undefined) server = cpuMicrosOf(serverPid);
  const usage = process.cpuUsage();
  return { server, postgres: postgresCpuMicros(), self: usage.user + usage.system, machine: machineTicks() };
}

/** CPU milliseconds spent per `unit` (say, per batch) during a phase, and the machine's idle share. */
export interface CpuSplit {
  server: number | null;
  postgres: number | null;
  clients: number;
  idleShare: number;
}

/** Starts measuring; the returned function ends the phase and answers its split per unit. */
export function measureCpu(serverPid?: number): (units: number) => CpuSplit {
  const from = read(serverPid);
  return (units) => {
    const to = read(serverPid);
    const per = (a: number | null, b: number | null) =>
      a === null || b === null ? null : (b - a) / 1000 / units;
    const busy = to.machine.busy - from.machine.busy;
    const idle = to.machine.idle - from.machine.idle;
    return {
      server: per(from.server, to.server),
      postgres: per(from.postgres, to.postgres),
      clients: (to.self - from.self) / 1000 / units,
      idleShare: busy + idle > 0 ? idle / (busy + idle) : 0,
    };
  };
}
