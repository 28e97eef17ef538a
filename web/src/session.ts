// Who is logged in, for every page; a page whose API call answers 401 calls
// `expired()` and the app sends the user to the login page, then back.

import { createContext, useContext } from "react";

export interface SessionContextValue {
  user: string;
  expired: () => void;
}

export const SessionContext = createContext<SessionContextValue>({
  user: "",
  expired: () => undefined,
});

export function useSession(): SessionContextValue {
  return useContext(SessionContext);
}
