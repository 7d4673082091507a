import { useMemo, useRef } from 'react';
import type { TaskInfo } from '../protocol';
import { ApiError, api } from '../lib/api';
import { fieldsFromSchema } from '../forms/fields';
import { Link, navigate } from '../lib/router';
import { GeneratedForm, type SubmitProblem } from './GeneratedForm';
import { Markdown } from './Markdown';

/** Start one task: a form generated from its input schema. */
export function StartForm({ task }: { task: TaskInfo }) {
  const fields = useMemo(() => fieldsFromSchema(task.input_schema), [task]);
  // One key per set of values: a double submit or a retried request starts one session,
  // not two; changed values are a new request (the hub refuses a key reused for others).
  const last = useRef<{ values: string; key: string } | null>(null);
  const keyFor = (values: Record<string, unknown>): string => {
    const signature = JSON.stringify(values);
    if (last.current?.values !== signature) last.current = { values: signature, key: randomKey() };
    return last.current.key;
  };

  const start = async (values: Record<string, unknown>): Promise<SubmitProblem | undefined> => {
    try {
      const session = await api.start(task.name, values, keyFor(values));
      navigate(`/sessions/${encodeURIComponent(session.id)}`);
      return undefined;
    } catch (error) {
      if (error instanceof ApiError) return { message: error.message, fields: error.fields };
      return { message: 'The session could not be started.' };
    }
  };

  return (
    <section aria-labelledby="start-title" className="narrow">
      <nav className="crumbs"><Link to="/">← Tasks</Link></nav>
      <div className="page-head">
        <h1 id="start-title">{task.title}</h1>
      </div>
      <Markdown source={task.description} className="lead" />
      <div className="card">
        <GeneratedForm fields={fields} submitLabel="Start task" onSubmit={start} autoFocus />
      </div>
    </section>
  );
}

/** crypto.randomUUID needs a secure context; a hub on a LAN address may not be one. */
function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
