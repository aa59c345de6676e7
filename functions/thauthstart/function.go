// Package thauthstart is the thAuthStart Cloud Function: it starts the
// Threads OAuth flow for a signed-in Firebase user.
package thauthstart

import (
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"threadsfunctions.dev/shared/app"
	"threadsfunctions.dev/shared/config"
)

// Name is the function's entry point and its path in the local runner.
const Name = "thAuthStart"

// Options are what thAuthStart needs from its instance.
var Options = app.Options{Needs: config.Needs{OAuthStart: true}, Auth: true}

func init() {
	functions.HTTP(Name, app.Lazy(Name, Options, NewHandler))
}

// NewHandler builds the function's handler from an instance's dependencies.
func NewHandler(d *app.Deps) (http.Handler, error) {
	s := &Server{Config: d.Config, Verifier: d.Auth, States: d.Store}
	return d.Route(http.MethodPost).Handler(s.Handle), nil
}
