/** Problems of one kind: how many, and the first few to show. Memory stays flat however many there are. */
export class Findings {
  count = 0;
  readonly examples: string[] = [];

  constructor(private readonly keep: number) {}

  push(example: string): void {
    this.count += 1;
    if (this.examples.length < this.keep) this.examples.push(example);
  }
}
