// Package thdisconnect is the thDisconnect Cloud Function: a signed-in user
// removes one of their connected Threads accounts.
package thdisconnect

import (
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"threadsfunctions.dev/shared/app"
	"threadsfunctions.dev/shared/config"
)

// Name is the function's entry point and its path in the local runner.
const Name = "thDisconnect"

// Options are what thDisconnect needs from its instance: Firestore and ID-token checks.
var Options = app.Options{Needs: config.Needs{}, Auth: true}

func init() {
	functions.HTTP(Name, app.Lazy(Name, Options, NewHandler))
}

// NewHandler builds the function's handler from an instance's dependencies.
func NewHandler(d *app.Deps) (http.Handler, error) {
	s := &Server{Verifier: d.Auth, Store: d.Store}
	return d.Route(http.MethodPost).Handler(s.Handle), nil
}
