export { Template } from './exec.ts';
export { TemplateError } from './lexer.ts';
export { FUNCS, sprintf, toJson, type TemplateFunc } from './funcs.ts';
export { printValue, NO_VALUE, STRICT } from './print.ts';
