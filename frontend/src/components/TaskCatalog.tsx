import type { TaskInfo } from '../protocol';
import { Link } from '../lib/router';
import { Markdown } from './Markdown';

/** Every task the hub serves, each with its description and a way to start it. */
export function TaskCatalog({ tasks, error }: { tasks: readonly TaskInfo[] | null; error: string | null }) {
  return (
    <section aria-labelledby="catalog-title">
      <div className="page-head">
        <h1 id="catalog-title">Tasks</h1>
        <p className="muted">Start a task, follow it live, and answer when it needs you.</p>
      </div>
      {error && <p className="form-error" role="alert">{error}</p>}
      {tasks === null && !error && <p className="muted">Loading tasks…</p>}
      {tasks !== null && tasks.length === 0 && <p className="muted">This hub serves no tasks.</p>}
      <ul className="task-grid">
        {tasks?.map((task) => (
          <li key={task.name} className="card task-card">
            <h2>{task.title}</h2>
            <code className="task-name">{task.name}</code>
            <Markdown source={task.description} className="task-description" />
            <div className="card-actions">
              <Link to={`/tasks/${encodeURIComponent(task.name)}`} className="button primary" aria-label={`Start ${task.title}`}>
                Start
              </Link>
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}
