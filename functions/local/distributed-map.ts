// aws-local-stepfunctions has no Distributed Map. Before a local run each one (top level or in a Parallel's branch)
// is rewritten into what it does, keeping its ItemProcessor states, their Retry and the map's Catch:
//
//   <Map>            Task (local): reads the ItemReader's manifest and cuts it into ItemBatcher's batches, each
//                    passed on as the byte range of its lines with the BatchInput (its paths resolved against the
//                    state, as AWS does): the state never holds the manifest's items, however many
//   <Map>Children    inline Map over the batches running <Map>LoadBatch (Task, local: reads the batch's lines back
//                    into { BatchInput, Items }, what a child gets on AWS), then the ItemProcessor's states; a child
//                    that fails for good is caught and counted instead of failing the run, as AWS counts it against
//                    the tolerated failures
//   <Map>Tolerance   Task (local): fails with States.ExceedToleratedFailureThreshold when more children failed than
//                    ToleratedFailurePercentage / ToleratedFailureCount allow; else passes on the map's result
//
// ResultWriter's files are not written locally (the map's result is { children, failed } instead of the S3 location).
import type { ByteRange, ManifestStore } from '../core/stores/manifest-store.js';
import type { AslDefinition } from './definition.js';

type AslState = { Type: string; [key: string]: unknown };

/** The fields of a Distributed Map the rewrite understands; any other fails the rewrite (it would be dropped silently). */
const UNDERSTOOD = new Set([
  'Type', 'Comment', 'ItemProcessor', 'ItemReader', 'ItemBatcher', 'MaxConcurrency', 'ToleratedFailurePercentage', 'ToleratedFailureCount',
  'ResultWriter', 'ResultPath', 'Next', 'End', 'Catch', 'Retry', 'Label',
]);
/** The local Tasks' Resource (their handlers are bound by state name). */
const LOCAL_RESOURCE = 'arn:aws:lambda:us-east-1:123456789012:function:DjmigrateLocalDistributedMap';
const CHILD_FAILED = { childFailed: true };

export interface InlinedDistributedMap {
  name: string;
  readerState: string;
  /** The inline Map over the batches; it and the reader hold every batch in the state, which AWS never does. */
  childrenState: string;
  /** A child's first state: its batch read back from the manifest. */
  loadState: string;
  toleranceState: string;
  /** The child's states (loadState and the ItemProcessor's): a failure there is one child's, not the run's. */
  childStates: Set<string>;
  maxItemsPerBatch: number;
  maxInputBytesPerBatch: number;
  /** Absent: not set (with neither set, no child may fail). */
  toleratedFailurePercentage?: number;
  toleratedFailureCount?: number;
}

/**
 * A copy of `definition` with every Distributed Map at the top level or in a Parallel's branch inlined;
 * `childConcurrency` caps the inline Maps.
 */
export function inlineDistributedMaps(definition: AslDefinition, childConcurrency: number): { definition: AslDefinition; maps: InlinedDistributedMap[] } {
  const maps: InlinedDistributedMap[] = [];
  return { definition: { ...definition, States: inlineIn(definition, childConcurrency, maps) }, maps };
}

function inlineIn(machine: { States: Record<string, AslState> }, childConcurrency: number, maps: InlinedDistributedMap[]): Record<string, AslState> {
  const states: Record<string, AslState> = {};
  for (const [name, state] of Object.entries(machine.States)) {
    const processor = state.ItemProcessor as { ProcessorConfig?: { Mode?: string }; StartAt: string; States: Record<string, AslState> } | undefined;
    if (state.Type === 'Parallel') {
      const branches = state.Branches as { States: Record<string, AslState> }[];
      states[name] = { ...state, Branches: branches.map((branch) => ({ ...branch, States: inlineIn(branch, childConcurrency, maps) })) };
      continue;
    }
    if (state.Type !== 'Map' || processor?.ProcessorConfig?.Mode !== 'DISTRIBUTED') {
      states[name] = state;
      continue;
    }
    const unknown = Object.keys(state).filter((key) => !UNDERSTOOD.has(key));
    if (unknown.length) throw new Error(`Distributed Map ${name}: ${unknown.join(', ')} cannot run locally yet`);
    const reader = state.ItemReader as { Parameters?: Record<string, unknown>; ReaderConfig?: { InputType?: string } } | undefined;
    if (reader?.ReaderConfig?.InputType !== 'JSONL') throw new Error(`Distributed Map ${name}: only a JSONL ItemReader runs locally`);
    const batcher = (state.ItemBatcher ?? {}) as { MaxItemsPerBatch?: number; MaxInputBytesPerBatch?: number; BatchInput?: unknown };
    const names = { reader: name, children: `${name}Children`, load: `${name}LoadBatch`, failed: `${name}ChildFailed`, tolerance: `${name}Tolerance` };
    for (const taken of [names.children, names.load, names.failed, names.tolerance]) {
      if (taken in machine.States || taken in processor.States) throw new Error(`Distributed Map ${name}: state name ${taken} is taken`);
    }
    const itemsPath = `$.${name}LocalBatches`;
    const catchers = state.Catch ? { Catch: state.Catch } : {};
    const loadState: AslState = { Type: 'Task', Resource: LOCAL_RESOURCE, Next: processor.StartAt };
    const childStates = Object.fromEntries(
      Object.entries({ [names.load]: loadState, ...processor.States }).map(([childName, child]) => [
        childName,
        child.Type === 'Task' ? { ...child, Catch: [...((child.Catch as unknown[]) ?? []), { ErrorEquals: ['States.ALL'], ResultPath: null, Next: names.failed }] } : child,
      ]),
    );
    states[names.reader] = {
      Type: 'Task',
      Comment: `Local stand-in: reads the manifest in the children's batches${state.Comment ? `. ${String(state.Comment)}` : ''}`,
      Resource: LOCAL_RESOURCE,
      Parameters: { ...(reader.Parameters ?? {}), ...(batcher.BatchInput ? { BatchInput: batcher.BatchInput } : {}) },
      ResultPath: itemsPath,
      Next: names.children,
      ...catchers,
    };
    states[names.children] = {
      Type: 'Map',
      ItemsPath: itemsPath,
      ItemProcessor: {
        ProcessorConfig: { Mode: 'INLINE' },
        StartAt: names.load,
        States: { ...childStates, [names.failed]: { Type: 'Pass', Result: CHILD_FAILED, End: true } },
      },
      MaxConcurrency: Math.min(childConcurrency, Number(state.MaxConcurrency ?? childConcurrency) || childConcurrency),
      ResultPath: itemsPath,
      Next: names.tolerance,
      ...catchers,
    };
    states[names.tolerance] = {
      Type: 'Task',
      Resource: LOCAL_RESOURCE,
      Parameters: { 'children.$': itemsPath },
      // a discarded map result still replaces the batches, so they do not travel on in the state
      ResultPath: state.ResultPath === null ? itemsPath : (state.ResultPath ?? '$'),
      ...(state.Next ? { Next: state.Next } : { End: true }),
      ...catchers,
    };
    maps.push({
      name,
      readerState: names.reader,
      childrenState: names.children,
      loadState: names.load,
      toleranceState: names.tolerance,
      childStates: new Set(Object.keys(childStates)),
      maxItemsPerBatch: batcher.MaxItemsPerBatch ?? Number.POSITIVE_INFINITY,
      maxInputBytesPerBatch: batcher.MaxInputBytesPerBatch ?? 256 * 1024,
      ...(state.ToleratedFailurePercentage !== undefined ? { toleratedFailurePercentage: Number(state.ToleratedFailurePercentage) } : {}),
      ...(state.ToleratedFailureCount !== undefined ? { toleratedFailureCount: Number(state.ToleratedFailureCount) } : {}),
    });
  }
  return states;
}

/** A batch as the inline Map hands it to a child: where its items are in the manifest, and its BatchInput. */
interface BatchRange {
  BatchInput?: unknown;
  Key: string;
  Start: number;
  End: number;
}

/** The reader Task's handler: the manifest (at the ItemReader's Key) cut into ItemBatcher's batches, as byte ranges. */
export async function readBatches(map: InlinedDistributedMap, manifests: ManifestStore, parameters: { Key?: unknown; BatchInput?: unknown }): Promise<BatchRange[]> {
  const key = parameters.Key;
  if (typeof key !== 'string') throw new Error(`Distributed Map ${map.name}: the ItemReader's Key is not a string`);
  const batches: BatchRange[] = [];
  let batch: (ByteRange & { items: number; bytes: number }) | null = null;
  const flush = () => {
    if (batch) batches.push({ ...(parameters.BatchInput !== undefined ? { BatchInput: parameters.BatchInput } : {}), Key: key, Start: batch.start, End: batch.end });
    batch = null;
  };
  for await (const { start, end } of manifests.read(key)) {
    // an item's size as the batcher counts it: its JSON (the line without its newline)
    const size = end - start - 1;
    if (batch && (batch.items >= map.maxItemsPerBatch || batch.bytes + size > map.maxInputBytesPerBatch)) flush();
    batch ??= { start, end, items: 0, bytes: 0 };
    batch.end = end;
    batch.items += 1;
    batch.bytes += size;
  }
  flush();
  return batches;
}

/** The load Task's handler: a batch's items read back from the manifest, as a Distributed Map child gets them. */
export async function loadBatch(map: InlinedDistributedMap, manifests: ManifestStore, batch: Partial<BatchRange>): Promise<{ BatchInput?: unknown; Items: unknown[] }> {
  const { Key: key, Start: start, End: end } = batch;
  if (typeof key !== 'string' || typeof start !== 'number' || typeof end !== 'number') throw new Error(`Distributed Map ${map.name}: a child's batch has no Key, Start and End`);
  const items: unknown[] = [];
  for await (const { record } of manifests.read(key, { start, end })) items.push(record);
  return { ...(batch.BatchInput !== undefined ? { BatchInput: batch.BatchInput } : {}), Items: items };
}

export class ToleratedFailureThresholdError extends Error {
  override readonly name = 'States.ExceedToleratedFailureThreshold';
}

/** The tolerance Task's handler: the map's result, or the error AWS ends a map with when too many children failed. */
export function checkTolerance(map: InlinedDistributedMap, parameters: { children?: unknown }): { children: number; failed: number } {
  const results = Array.isArray(parameters.children) ? parameters.children : [];
  const failed = results.filter((result) => (result as { childFailed?: unknown } | null)?.childFailed === true).length;
  // AWS fails the map when either threshold is passed
  const limits = [map.toleratedFailureCount, map.toleratedFailurePercentage === undefined ? undefined : (map.toleratedFailurePercentage / 100) * results.length];
  const set = limits.filter((limit): limit is number => limit !== undefined);
  const allowed = set.length ? Math.min(...set) : 0;
  if (failed > allowed) {
    throw new ToleratedFailureThresholdError(`${map.name}: ${failed} of ${results.length} child executions failed, more than tolerated (${Math.floor(allowed)})`);
  }
  return { children: results.length, failed };
}
