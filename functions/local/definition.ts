// The state machines exactly as deployed: synthesizes the real CDK stack in-process (bundling off), takes each state
// machine's DefinitionString and resolves its CloudFormation intrinsics, so the local runner executes the same
// definitions as AWS does.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { HandlerName } from '../handlers/names.js';
import type { WorkflowName } from '../../lib/djmigrate-stack.js';

/**
 * What the local runner needs: the ASL (intrinsics resolved), per Task state name the handler it invokes, and per
 * Task state that starts a child execution (startExecution.sync:2) the workflow of that child.
 */
export interface LoadedDefinition {
  definition: AslDefinition;
  handlerOfState: Record<string, HandlerName>;
  childOfState: Record<string, WorkflowName>;
}

export interface LoadDefinitionOptions {
  /** Folder of the handler entry files (only their existence matters, nothing is bundled). Default: the stack's. */
  handlersDir?: string;
  /** Synthesize the stack even when the build-time definitions exist. */
  synthesize?: boolean;
}

/** An ASL document as JSON (the shape aws-local-stepfunctions and Step Functions read). */
export type AslDefinition = { StartAt: string; States: Record<string, AslState>; [key: string]: unknown };
type AslState = { Type: string; [key: string]: unknown };

/** Values pseudo parameters and GetAtt resolve to locally. Only Task `Resource`/`FunctionName` use them. */
export const LOCAL_PARTITION = 'aws';
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '123456789012';

/** The local ARN of a function, from its logical id; {@link functionLogicalIdOfArn} reverses it. */
export function localFunctionArn(logicalId: string): string {
  return `arn:${LOCAL_PARTITION}:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${logicalId}`;
}

export function functionLogicalIdOfArn(arn: string): string | undefined {
  return /^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)/.exec(arn)?.[1];
}

/**
 * Resolves the CloudFormation intrinsics a synthesized DefinitionString uses: Fn::Join, Fn::GetAtt (…Arn → a local
 * ARN naming the logical id), Ref (pseudo parameters; resources → their logical id). Anything else throws.
 */
export function resolveIntrinsics(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(resolveIntrinsics);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  if (entries.length === 1 && (entries[0][0] === 'Ref' || entries[0][0].startsWith('Fn::'))) {
    const [fn, args] = entries[0];
    switch (fn) {
      case 'Ref':
        return resolveRef(args as string);
      case 'Fn::Join': {
        const [separator, parts] = args as [string, unknown[]];
        return (resolveIntrinsics(parts) as unknown[]).map(String).join(separator);
      }
      case 'Fn::GetAtt': {
        const [logicalId, attribute] = (typeof args === 'string' ? args.split('.') : args) as [string, string];
        if (attribute === 'Arn') return localFunctionArn(logicalId);
        return `${logicalId}.${attribute}`;
      }
      default:
        throw new Error(`resolveIntrinsics: unsupported intrinsic ${fn} in ${JSON.stringify(value)}`);
    }
  }
  return Object.fromEntries(entries.map(([key, item]) => [key, resolveIntrinsics(item)]));
}

function resolveRef(name: string): string {
  switch (name) {
    case 'AWS::Partition':
      return LOCAL_PARTITION;
    case 'AWS::Region':
      return LOCAL_REGION;
    case 'AWS::AccountId':
      return LOCAL_ACCOUNT;
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
    default:
      return name;
  }
}

/** The resolved ASL of a synthesized `AWS::StepFunctions::StateMachine` resource's DefinitionString. */
export function definitionFromDefinitionString(definitionString: unknown): AslDefinition {
  const resolved = resolveIntrinsics(definitionString);
  if (typeof resolved !== 'string') throw new Error('DefinitionString did not resolve to a string');
  return JSON.parse(resolved) as AslDefinition;
}

/** Every state of `type` (also those inside Map/Parallel), by name. Names must be unique (local overrides are keyed by name). */
export function statesOfType(definition: AslDefinition, type: string): [string, AslState][] {
  const found: [string, AslState][] = [];
  const seen = new Set<string>();
  const visit = (machine: { States?: Record<string, AslState> }) => {
    for (const [name, state] of Object.entries(machine.States ?? {})) {
      if (seen.has(name)) throw new Error(`state name ${name} is used twice; local overrides are keyed by state name`);
      seen.add(name);
      if (state.Type === type) found.push([name, state]);
      if (state.Type === 'Map') {
        visit((state.ItemProcessor ?? state.Iterator) as { States?: Record<string, AslState> });
      } else if (state.Type === 'Parallel') {
        for (const branch of state.Branches as { States?: Record<string, AslState> }[]) visit(branch);
      }
    }
  };
  visit(definition);
  return found;
}

/** The Resource of a Task that starts a child execution and waits for it (its output as JSON). */
export const START_EXECUTION_SYNC_RESOURCE = /^arn:[^:]+:states:::states:startExecution\.sync(:2)?$/;

function startsExecution(state: AslState): boolean {
  return typeof state.Resource === 'string' && START_EXECUTION_SYNC_RESOURCE.test(state.Resource);
}

/** The logical id of a state machine from its resolved StateMachineArn (a Ref resolves to the bare logical id). */
export function stateMachineLogicalIdOfArn(arn: string): string {
  return /^arn:[^:]+:states:[^:]*:[^:]*:stateMachine:([^:]+)/.exec(arn)?.[1] ?? arn;
}

/** Every Lambda Task state (also those inside Map/Parallel) → the handler of the function it invokes. Names must be unique. */
export function mapTaskStatesToHandlers(
  definition: AslDefinition,
  handlerOfLogicalId: Record<string, HandlerName>,
): Record<string, HandlerName> {
  const handlerOfState: Record<string, HandlerName> = {};
  for (const [name, state] of statesOfType(definition, 'Task')) {
    if (startsExecution(state)) continue;
    const functionName = (state.Parameters as { FunctionName?: unknown } | undefined)?.FunctionName;
    const logicalId = typeof functionName === 'string' ? functionLogicalIdOfArn(functionName) : undefined;
    const handler = logicalId === undefined ? undefined : handlerOfLogicalId[logicalId];
    if (!handler) throw new Error(`Task state ${name} invokes no known handler function (FunctionName ${String(functionName)})`);
    handlerOfState[name] = handler;
  }
  return handlerOfState;
}

/** Every Task state that starts a child execution (startExecution.sync) → the workflow of the machine it starts. */
export function mapChildExecutionStates(
  definition: AslDefinition,
  workflowOfLogicalId: Record<string, WorkflowName>,
): Record<string, WorkflowName> {
  const childOfState: Record<string, WorkflowName> = {};
  for (const [name, state] of statesOfType(definition, 'Task')) {
    if (!startsExecution(state)) continue;
    const arn = (state.Parameters as { StateMachineArn?: unknown } | undefined)?.StateMachineArn;
    const workflow = typeof arn === 'string' ? workflowOfLogicalId[stateMachineLogicalIdOfArn(arn)] : undefined;
    if (!workflow) throw new Error(`Task state ${name} starts no known state machine (StateMachineArn ${String(arn)})`);
    childOfState[name] = workflow;
  }
  return childOfState;
}

/**
 * The definitions of the default stack, written at build time by `npm run definitions` (scripts/write-definitions.ts)
 * so that a local run pays neither for CDK synthesis nor for loading aws-cdk-lib; a test proves the file equals a
 * fresh synthesis.
 */
export const GENERATED_DEFINITIONS = fileURLToPath(new URL('./definitions.generated.json', import.meta.url));

const STACK_MODULE = '../../lib/djmigrate-stack.js';
const cache = new Map<string, Promise<Record<WorkflowName, LoadedDefinition>>>();

/**
 * One workflow's definition with every Task state mapped to its handler: the build-time file, or (another handlers
 * folder, `synthesize: true`, or no file yet) the real stack synthesized in-process, once per process (~2 s).
 * Every call gets its own copy.
 */
export async function loadDefinition(workflow: WorkflowName, options: LoadDefinitionOptions = {}): Promise<LoadedDefinition> {
  const fromFile = !options.handlersDir && !options.synthesize && existsSync(GENERATED_DEFINITIONS);
  const key = fromFile ? 'generated' : `synth\0${options.handlersDir ?? ''}`;
  let loaded = cache.get(key);
  if (!loaded) {
    loaded = fromFile ? readFile(GENERATED_DEFINITIONS, 'utf8').then((text) => JSON.parse(text) as Record<WorkflowName, LoadedDefinition>) : synthesizeDefinitions(options);
    cache.set(key, loaded);
    loaded.catch(() => cache.delete(key));
  }
  // a copy per caller: executors may annotate the object they run (aws-local-stepfunctions adds QueryLanguage)
  return structuredClone((await loaded)[workflow]);
}

/** Synthesizes the real stack in-process (no bundling): every workflow's definition and state → handler maps. */
export async function synthesizeDefinitions(options: LoadDefinitionOptions = {}): Promise<Record<WorkflowName, LoadedDefinition>> {
  return synthesize(options);
}

async function synthesize(options: LoadDefinitionOptions): Promise<Record<WorkflowName, LoadedDefinition>> {
  // aws-cdk-lib is big: loaded only when a definition is needed, not when the CLI merely starts
  // a module path the CLI bundle leaves alone: the bundle always has the build-time definitions next to it
  const [{ App }, stackModule] = await Promise.all([import('aws-cdk-lib'), import(STACK_MODULE) as Promise<typeof import('../../lib/djmigrate-stack.js')>]);
  const { DJMIGRATE_STACK_ID, DjmigrateStack, projectCdkContext } = stackModule;
  const outdir = mkdtempSync(path.join(tmpdir(), 'djmigrate-synth-'));
  try {
    const app = new App({
      outdir,
      context: { ...projectCdkContext(), 'aws:cdk:bundling-stacks': [] },
      // the template check (WASM, ~4 s on first use) is `cdk synth`'s and the stack test's job, not the runner's
      builtinCloudFormationValidation: false,
    });
    const stack = new DjmigrateStack(app, DJMIGRATE_STACK_ID, { handlersDir: options.handlersDir });
    const template = app.synth().getStackByName(stack.stackName).template as {
      Resources: Record<string, { Type: string; Properties?: { DefinitionString?: unknown } }>;
    };
    const load = (logicalId: string): LoadedDefinition => {
      const resource = template.Resources[logicalId];
      if (resource?.Type !== 'AWS::StepFunctions::StateMachine') throw new Error(`state machine ${logicalId} not found in the synthesized template`);
      const definition = definitionFromDefinitionString(resource.Properties?.DefinitionString);
      return {
        definition,
        handlerOfState: mapTaskStatesToHandlers(definition, stack.handlerOfLogicalId),
        childOfState: mapChildExecutionStates(definition, workflowOfLogicalId),
      };
    };
    const ids = stack.stateMachineLogicalIds;
    const workflowOfLogicalId = Object.fromEntries(Object.entries(ids).map(([workflow, logicalId]) => [logicalId, workflow])) as Record<string, WorkflowName>;
    return { migrate011: load(ids.migrate011), migrate014: load(ids.migrate014), batch: load(ids.batch) };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
