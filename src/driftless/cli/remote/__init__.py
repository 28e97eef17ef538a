"""The CLI as a client of ``driftless server``: login, stored credentials, and app commands.

* ``credentials``: the servers one is logged in to, in a 0600 file under the
  user's config dir, and the current one;
* ``target``: the one decision whether a command talks to the Kubernetes API
  (a kubeconfig) or to a driftless server (pure);
* ``sso``: ``driftless login --sso``, single sign-on in the browser with a
  loopback callback and a one-time code;
* ``client``: the HTTP client of the server's ``/api/v1`` (httpx), whose
  every failure is one ``ServerError`` line;
* ``apps``: what the app commands read and write, from the cluster or from
  the server, behind one interface, so both print the same and exit alike.
"""
