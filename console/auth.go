package console

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/cloudrole/cloudrole/internal/opauth"
)

const cookieName = "cloudrole_console"

// who returns the name of the token r carries (a Bearer header, or the
// session cookie the login set), or "".
func (c *Console) who(r *http.Request) string {
	if tok, ok := opauth.Bearer(r); ok {
		return opauth.Match(c.o.Tokens, tok)
	}
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return ""
	}
	name, sig, ok := strings.Cut(ck.Value, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(c.sign(name))) {
		return ""
	}
	for _, t := range c.o.Tokens {
		if t.Name == name {
			return name // still a configured token
		}
	}
	return ""
}

// sign is the session cookie's signature of a token name.
func (c *Console) sign(name string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(name))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// read lets a request through to a page when reads are open or it carries
// a token; otherwise it sends it to the login page.
func (c *Console) read(h func(w http.ResponseWriter, r *http.Request, who string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who := c.who(r)
		if who == "" && !c.o.OpenReads {
			if r.Header.Get("Accept") == "text/event-stream" {
				http.Error(w, "a token is required", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/console/login?next="+urlEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		h(w, r, who)
	})
}

// auth lets an action through only with a token.
func (c *Console) auth(h func(w http.ResponseWriter, r *http.Request, who string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who := c.who(r)
		if who == "" {
			c.o.Logger.Warn("console: action refused: no valid token", "action", r.URL.Path, "remote", r.RemoteAddr)
			http.Error(w, "this action needs an operator token: log in at /console/login", http.StatusUnauthorized)
			return
		}
		h(w, r, who)
	})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	name := opauth.Match(c.o.Tokens, r.PostFormValue("token"))
	if name == "" {
		c.o.Logger.Warn("console: login refused", "remote", r.RemoteAddr)
		w.WriteHeader(http.StatusUnauthorized)
		c.render(w, "login.html", page{Title: "Log in", Error: "That is not an operator token."})
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: name + "." + c.sign(name), Path: "/console/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	c.o.Logger.Info("console: login", "by", name, "remote", r.RemoteAddr)
	next := r.PostFormValue("next")
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") {
		next = "/console/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/console/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, "login.html", page{Title: "Log in", Next: r.URL.Query().Get("next")})
}
