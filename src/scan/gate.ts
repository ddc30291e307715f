/**
 * Politeness: at most `perAddress` connections to one IP address at a time, across every
 * domain of the scan (DestinationOptions.connectGate). Waiters are served in arrival order.
 * A waiter whose signal aborts leaves the queue and gets a no-op release at once: its
 * session then fails immediately on the same aborted signal and never connects.
 */
export interface AddressGate {
  acquire(address: string, signal?: AbortSignal): Promise<() => void>;
  /** Connections open now / waiting now (for tests and the progress line). */
  readonly active: number;
  readonly waiting: number;
  /** acquire(address) would wait now (the address is at its limit). */
  wouldWait(address: string): boolean;
  /** Waiters queued for this address now. */
  waitingAt(address: string): number;
}

interface Slot {
  active: number;
  queue: { grant: () => void }[];
}

export function addressGate(perAddress = 1): AddressGate {
  const slots = new Map<string, Slot>();
  let active = 0;
  let waiting = 0;
  const releaseOf = (address: string, slot: Slot): (() => void) => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      active--;
      slot.active--;
      const next = slot.queue.shift();
      if (next) {
        waiting--;
        next.grant();
      } else if (slot.active === 0) {
        slots.delete(address);
      }
    };
  };
  return {
    get active() {
      return active;
    },
    get waiting() {
      return waiting;
    },
    wouldWait(address: string): boolean {
      return (slots.get(address)?.active ?? 0) >= perAddress;
    },
    waitingAt(address: string): number {
      return slots.get(address)?.queue.length ?? 0;
    },
    acquire(address: string, signal?: AbortSignal): Promise<() => void> {
      const noop = (): void => {};
      if (signal?.aborted) return Promise.resolve(noop);
      let slot = slots.get(address);
      if (!slot) {
        slot = { active: 0, queue: [] };
        slots.set(address, slot);
      }
      const s = slot;
      if (s.active < perAddress) {
        s.active++;
        active++;
        return Promise.resolve(releaseOf(address, s));
      }
      waiting++;
      return new Promise((resolve) => {
        const waiter = {
          grant: () => {
            signal?.removeEventListener('abort', onAbort);
            s.active++;
            active++;
            resolve(releaseOf(address, s));
          },
        };
        const onAbort = (): void => {
          const i = s.queue.indexOf(waiter);
          if (i >= 0) {
            s.queue.splice(i, 1);
            waiting--;
          }
          resolve(noop);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        s.queue.push(waiter);
      });
    },
  };
}
