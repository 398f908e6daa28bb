// sched_yield(2), for the device loop's busy polling: a spinning thread must let a peer that
// shares its CPU (the front-end it is waiting for) run.
import { libc } from './libc';

const yieldFn = libc.func('int sched_yield(void)');

export function schedYield(): void {
  yieldFn();
}
