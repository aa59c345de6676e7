// Package thauthcallback is the thAuthCallback Cloud Function: Threads
// redirects the user here after consent; it finishes the OAuth flow, stores
// the account and sends the user back to the app.
package thauthcallback

import (
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"threadsfunctions.dev/shared/app"
	"threadsfunctions.dev/shared/config"
)

// Name is the function's entry point and its path in the local runner.
const Name = "thAuthCallback"

// Options are what thAuthCallback needs from its instance.
var Options = app.Options{Needs: config.Needs{OAuthCallback: true, Tokens: true}}

func init() {
	functions.HTTP(Name, app.Lazy(Name, Options, NewHandler))
}

// NewHandler builds the function's handler from an instance's dependencies.
func NewHandler(d *app.Deps) (http.Handler, error) {
	s := &Server{Config: d.Config, States: d.Store, Accounts: d.Store, Threads: d.Threads}
	rt := d.Route(http.MethodGet)
	rt.AllowOrigin = nil // a top-level navigation from Threads, never a CORS call
	return rt.Handler(s.Handle), nil
}
