// Package dashboard is hoard's web dashboard, served by `hoard serve` on the
// API's own listener under /dashboard/.
//
// Its pages are server-rendered html/template pages with a little of our
// own JavaScript (live status, copy buttons); templates, style sheet and
// script are embedded in the binary (go:embed). Nothing is fetched from
// elsewhere.
//
// # Sections
//
//   - Sessions: the login form asks the built-in identity service for a
//     project-scoped token (POST /identity/v3/auth/tokens, in process); the
//     token is the value of the session cookie (HttpOnly, SameSite=Strict,
//     Secure over HTTPS). Logout revokes it; switching project rescopes it.
//   - CSRF: every form carries a token derived from the session (an HMAC of
//     the session token, which only the browser holds); the login form, before
//     any session, is tied to a random cookie (double submit). A POST
//     without the right token, or from another origin, is refused with 403.
//   - Authorisation: every read and every change is a request to the Trove
//     API handler itself, in process, under the session's token. The
//     dashboard therefore sees exactly what the API lets that token see: a
//     member only their project, a reader nothing to change. The API's
//     fault message is shown next to the form field it names.
//   - Guest logs: the instance page lists the engine's logs (GET
//     /instances/{id}/log) with forms for the API's log actions. A
//     published log downloads from /dashboard/instances/{id}/logs/{name}:
//     the API's Swift view wants the token in a header, which a link cannot
//     send, so the dashboard lists and reads the log's parts there under
//     the session and answers them as one text file.
package dashboard
