// The app's task views, by the name a task gives in `@hub.task(view=...)`. Add an entry here
// to add a view (docs/VIEWS.md).
import { EmailAssistantView, claimedByAssistant } from './EmailAssistantView';
import { createRegistry } from './registry';

export const VIEWS = createRegistry({
  email_assistant: { component: EmailAssistantView, claims: claimedByAssistant, showsInputs: true },
});

export { GenericView } from './GenericView';
export { claimedInPlace, resolveView, type ResolvedView, type TaskView, type TaskViewProps } from './registry';
