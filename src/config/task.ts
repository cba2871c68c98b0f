// The task a data section names: data.task 'auto' without a data.path is the synthetic task (loadProblems infers
// tasks from files; with no file there is nothing to infer from).
export function taskWithoutInference(task: string, path: string | null | undefined): string {
  return task === 'auto' && (path === null || path === undefined) ? 'synthetic' : task;
}
