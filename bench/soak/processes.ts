/**
 * The node processes of a local soak network, watched: every exit the harness did not cause (a
 * SIGKILL from chaos, the SIGTERM at the end) is a death — a crash, an out-of-memory abort, a
 * fatal condition — recorded with its time, exit code and signal.
 */
import type { Exit, TestNetwork } from '../../test/helpers/network.ts';
import type { NodeHandle } from './nodes.ts';

export interface Death {
  readonly node: string;
  readonly pid: number | undefined;
  readonly atSec: number;
  readonly code: number | null;
  readonly signal: string | null;
}

export const nodeName = (id: number) => (id === 4 ? 'client' : `replica${id}`);

export class Processes {
  readonly deaths: Death[] = [];
  readonly #expected = new Set<number>();
  #stopping = false;

  constructor(
    readonly net: TestNetwork,
    readonly clock: () => number,
    readonly log: (s: string) => void,
  ) {
    for (const id of [...net.replicas, net.clientId]) this.#watch(id);
  }

  handles(): NodeHandle[] {
    return [...this.net.replicas, this.net.clientId].map((id) => ({
      name: nodeName(id),
      replica: id === this.net.clientId ? null : id,
      metricsUrl: this.net.metricsUrl(id),
      pid: () => this.net.pid(id),
      running: () => this.net.isRunning(id),
    }));
  }

  #watch(id: number): void {
    const pid = this.net.pid(id);
    void this.net.exited(id).then((exit: Exit) => {
      if (this.#stopping || this.#expected.delete(id)) return;
      const death = { node: nodeName(id), pid, atSec: Math.round(this.clock()), code: exit.code, signal: exit.signal };
      this.deaths.push(death);
      this.log(`!! ${death.node} (pid ${pid}) died on its own at ${death.atSec} s: code ${exit.code}, signal ${exit.signal}`);
    });
  }

  /** From now on every exit is expected (Ctrl-C reaches the nodes too). */
  expectAll(): void {
    this.#stopping = true;
  }

  /** SIGKILL, as chaos: an expected exit. */
  async kill(id: number): Promise<void> {
    this.#expected.add(id);
    await this.net.kill(id, 'SIGKILL');
  }

  restart(id: number): void {
    this.net.restart(id);
    this.#watch(id);
  }

  /** SIGKILL to every node still running, at once (the harness is exiting). */
  killAllNow(): void {
    this.#stopping = true;
    for (const n of this.handles()) {
      const pid = n.pid();
      if (n.running() && pid !== undefined) process.kill(pid, 'SIGKILL');
    }
  }

  /** SIGTERM to every node (SIGKILL after 20 s); `keep` decides whether the directory stays. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.net.stop();
  }
}
