/**
 * The host TSC frequency, for the guest's tsc_early_khz: under TCG the guest's RDTSC reads the
 * host TSC, and without a given frequency the guest calibrates it against emulated timers, which
 * hangs microvm boots at random.
 *
 * Source: /proc/cpuinfo `bogomips`. On x86 with a TSC the kernel's delay loop counts TSC cycles
 * and its loops_per_jiffy comes from tsc_khz, so bogomips = 2 × TSC MHz exactly (2 decimals:
 * ±5 kHz). `cpu MHz` is not used: it is the current core clock under cpufreq, and cpu_khz may
 * differ from tsc_khz even without it. dmesg is not read: it may be restricted or rotated.
 */
import { readFileSync } from 'node:fs';

/** Returns the TSC kHz, or undefined when the TSC is not invariant (constant_tsc) or not listed. */
export function parseTscKhz(cpuinfo: string): number | undefined {
  const firstCpu = cpuinfo.split(/\n\s*\n/)[0] ?? '';
  const flags = field(firstCpu, 'flags')?.split(/\s+/) ?? [];
  if (!flags.includes('tsc') || !flags.includes('constant_tsc')) return undefined;
  const bogomips = Number(field(firstCpu, 'bogomips'));
  if (!Number.isFinite(bogomips) || bogomips <= 0) return undefined;
  return Math.round((bogomips / 2) * 1000);
}

export function hostTscKhz(cpuinfoPath = '/proc/cpuinfo'): number | undefined {
  return parseTscKhz(readFileSync(cpuinfoPath, 'utf8'));
}

function field(block: string, name: string): string | undefined {
  const match = new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(block);
  return match?.[1]?.trim();
}
