// When this shim began its sandbox's work, for the cold-start phases (vm_runtime/phase_clock.ts):
// the process's start, or for a spare shim (spare_shim.ts) the moment a `start` claimed it.

let began = Math.round(performance.timeOrigin);

export function shimBegan(): number {
  return began;
}

/** A spare shim's process started long before its sandbox: the claim is where that began. */
export function markShimBegan(ms: number): void {
  began = ms;
}
