import { Converter, ReferenceType, ReflectionFlag, ReflectionKind } from 'typedoc';

/**
 * The options types are inferred from their zod schemas (`interface RialtoExchangeOptions extends
 * z.input<z.ZodObject<typeof rialtoExchangeOptionsShape>> {}`), and each option's TSDoc sits on its
 * property in the shape. Rendered as is, every option would read "Inherited from z.input", the
 * zod type would appear as the interface's parent, and each option would show its schema as a
 * default value (`= ...`). This presents them as the plain interfaces users know.
 */
export function load(app) {
  // Before TypeDoc derives each interface's hierarchy from the types it extends.
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    for (const options of context.project.getReflectionsByKind(ReflectionKind.Interface)) {
      const inferred = (options.extendedTypes ?? []).filter(mentionsZodInference);
      if (inferred.length === 0) continue;
      const kept = options.extendedTypes?.filter((type) => !inferred.includes(type)) ?? [];
      options.extendedTypes = kept.length === 0 ? undefined : kept;
      for (const option of options.children ?? []) {
        option.inheritedFrom = undefined;
        option.setFlag(ReflectionFlag.Inherited, false);
      }
    }
  });
  // After TypeDoc has linked inherited members to the members they come from.
  app.converter.on(
    Converter.EVENT_RESOLVE_END,
    (context) => {
      for (const derived of context.project.getReflectionsByKind(ReflectionKind.Interface)) {
        for (const option of derived.children ?? []) {
          // An interface member has no initializer: this "default value" is the schema of a shape's
          // property. The default users need is in its @default tag.
          option.defaultValue = undefined;
          // An interface built on an options type, e.g. `extends Partial<RialtoExchangeOptions>`, links
          // each inherited option back to it, as it did when the options were a hand-written interface.
          if (!option.inheritedFrom || option.inheritedFrom.reflection) continue;
          const origin = (derived.extendedTypes ?? [])
            .flatMap((type) => (type instanceof ReferenceType ? (type.typeArguments ?? []) : []))
            .map((type) => (type instanceof ReferenceType ? type.reflection : undefined))
            .map((reflection) => reflection?.getChildByName?.([option.name]))
            .find((member) => member !== undefined);
          if (origin) {
            option.inheritedFrom = ReferenceType.createResolvedReference(
              option.inheritedFrom.name,
              origin,
              context.project,
            );
          }
        }
      }
    },
    -100,
  );
}

/** `z.input<…>` or `z.output<…>`, possibly inside another type such as `Omit<z.output<…>, …>`. */
function mentionsZodInference(type) {
  if (!(type instanceof ReferenceType)) return false;
  if (type.package === 'zod' && (type.qualifiedName === 'input' || type.qualifiedName === 'output'))
    return true;
  return (type.typeArguments ?? []).some(mentionsZodInference);
}
