// Package opauth checks operator tokens: the credentials (console.token,
// console.token_file) that every HTTP action of a host needs, whether it
// comes through the console's pages or the jobs API. It holds the one
// comparison both use, so a token means the same everywhere.
//
// A token is presented as "Authorization: Bearer <secret>". Secrets are
// compared in constant time against every configured token, and never
// logged or echoed: what callers learn is the token's name.
package opauth
