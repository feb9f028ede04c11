import { journeysRouter } from "./journeys/router";
import { createCallerFactory, router } from "./trpc";

export const appRouter = router({
  journeys: journeysRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
