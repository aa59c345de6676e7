// Package thdeauthorize is the thDeauthorize Cloud Function: Meta's
// "uninstall" (deauthorize) callback, called when a Threads user removes
// the app. Authentication is the signed_request's signature.
package thdeauthorize

import (
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"threadsfunctions.dev/shared/app"
	"threadsfunctions.dev/shared/config"
)

// Name is the function's entry point and its path in the local runner.
const Name = "thDeauthorize"

// Options are what thDeauthorize needs: the app secret and Firestore.
var Options = app.Options{Needs: config.Needs{AppSecret: true}}

func init() {
	functions.HTTP(Name, app.Lazy(Name, Options, NewHandler))
}

// NewHandler builds the function's handler from an instance's dependencies.
func NewHandler(d *app.Deps) (http.Handler, error) {
	s := &Server{Secret: []byte(d.AppSecret), Store: d.Store, MaxAge: d.Config.SignedRequestMaxAge}
	rt := d.Route(http.MethodPost)
	rt.AllowOrigin = nil // Meta's servers call it, never a browser
	return rt.Handler(s.Handle), nil
}
