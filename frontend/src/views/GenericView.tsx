import { ValueView } from '../components/ValueView';
import type { TaskViewProps } from './registry';

/** Any task's state, drawn as a value tree: the view of every task that names none. */
export function GenericView({ session }: TaskViewProps) {
  if (Object.keys(session.state).length === 0) return null;
  return (
    <section className="card" aria-labelledby="state-title">
      <h2 id="state-title">State</h2>
      <ValueView value={session.state} />
    </section>
  );
}
