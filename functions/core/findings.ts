/** Findings as a checkpoint keeps them (their JSON). */
export interface SavedFindings {
  count: number;
  examples: string[];
}

/** Problems of one kind: how many, and the first few to show. Memory stays flat however many there are. */
export class Findings {
  count = 0;
  readonly examples: string[] = [];

  constructor(private readonly keep: number) {}

  /** Findings kept earlier (their JSON: `count` and `examples`), to go on counting. */
  static restore(saved: SavedFindings, keep: number): Findings {
    const findings = new Findings(keep);
    findings.count = saved.count;
    findings.examples.push(...saved.examples.slice(0, keep));
    return findings;
  }

  push(example: string): void {
    this.count += 1;
    if (this.examples.length < this.keep) this.examples.push(example);
  }
}
