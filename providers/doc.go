// Package providers defines the Router interface every traffic provider implements, and the
// explicit registry that maps a Rollout's provider block to one (an unknown name is an
// error, never a fallback). The registry of the providers that exist is registry.Default, in
// a package of its own because it imports them all.
//
// Each mesh or gateway lives in a package of its own below this one and ships its built-in
// metric templates; all of them pass one shared conformance suite (package conformance).
// What providers have in common lives here rather than in copies: the Services they route
// to (DesiredServices, GetServices), the weight arithmetic (Split, CanaryPercent), the
// read-modify-write of objects a user may edit too (Update, UpdateControlled), typed reads of
// other projects' objects (Field), the encoding of cookies and comparisons as regular
// expressions (CookieRegex, ValueRegex) and handing traffic back on deletion (HandBack).
// Providers know the API types and their data plane's objects, and nothing of the reconciler.
package providers
