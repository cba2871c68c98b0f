// jest runs tests in a vm sandbox whose globals are not Node's: Node 20 has Symbol.dispose, the sandbox may not.
// Define it there so `using` and Tensor's [Symbol.dispose] agree inside tests (Node itself needs nothing).
if (typeof (Symbol as { dispose?: symbol }).dispose !== 'symbol') {
  Object.defineProperty(Symbol, 'dispose', { value: Symbol.for('nodejs.dispose') });
}
