// bench-guest --trace's report: each daemon's request cycles over its traced boots, per cache mode,
// as a table and as JSON (request_cycles.ts defines the measures).
import { renderTable } from '../bench_common/format';
import type { Backend, Cache } from './backends';
import { type CycleSummary, type RequestCycles, type Spread, summarizeCycles } from './request_cycles';

export interface TracedCycles {
  readonly cache: Cache;
  readonly backend: Backend;
  readonly cycles: RequestCycles;
}

function us(value: number): string {
  return Number.isNaN(value) ? '—' : value.toFixed(0);
}

function spreadCell(s: Spread): string {
  return `${us(s.p50)} / ${us(s.p90)} / ${us(s.mean)}`;
}

function percent(share: number): string {
  return `${(share * 100).toFixed(0)}%`;
}

function wakes(s: CycleSummary): string {
  const entries = Object.entries(s.wokenBy).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? '—' : entries.map(([name, share]) => `${name} ${percent(share)}`).join(', ');
}

export function cyclesTable(traced: readonly TracedCycles[]): string {
  const lines = [
    "daemon request cycles (--trace: each boot from a few hundred ms after the workload's first line, when",
    'perf attached, until QEMU exits; tracing slows the daemons, so the rates above are perturbed);',
    'µs, p50 / p90 / mean',
  ];
  const rows = [
    [
      'cache',
      'back end',
      'cycles',
      'service',
      'in system calls',
      'between them',
      'calls',
      'guest turnaround',
      'preempted after signal',
      'other wakes',
      'woken by',
    ],
  ];
  for (const t of traced) {
    const s = summarizeCycles(t.cycles);
    rows.push([
      t.cache,
      t.backend,
      String(s.cycles),
      spreadCell(s.serviceUs),
      spreadCell(s.inCallsUs),
      spreadCell(s.betweenCallsUs),
      Number.isNaN(s.callsPerCycle) ? '—' : s.callsPerCycle.toFixed(1),
      spreadCell(s.turnaroundUs),
      percent(s.preemptedAfterSignal),
      percent(s.unsignalledWakes),
      wakes(s),
    ]);
  }
  lines.push(...renderTable(rows, [0, 1, 10]));
  lines.push(
    'cycle: from the wait that woke a serving thread to its call-eventfd write (one request for C and Rust,',
    "a batch for ours); service: that time, split into the time inside the daemon's system calls and the",
    'time between them (user space, page faults, interrupts); calls: system calls per cycle, the write not',
    "counted; guest turnaround: from the write to the thread's next wake (QEMU and the guest, plus what the",
    'daemon still did after signalling); preempted after signal: the thread lost its CPU, still runnable,',
    'between the write and its next wait; other wakes: wakes that slept again without signalling (timers,',
    'sockets, tasks), per cycle.',
  );
  return lines.join('\n');
}

export function cyclesJson(traced: readonly TracedCycles[]): unknown[] {
  return traced.map((t) => ({ cache: t.cache, backend: t.backend, ...summarizeCycles(t.cycles) }));
}
