import { eventsRouter } from "./events/router";
import { journeysRouter } from "./journeys/router";
import { createCallerFactory, router } from "./trpc";

export const appRouter = router({
  journeys: journeysRouter,
  events: eventsRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
