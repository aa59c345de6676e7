// Package thdatadeletion is the thDataDeletion Cloud Function: Meta's
// data-deletion callback (POST, signed_request), and the status page Meta
// links the user to (GET ?code=).
package thdatadeletion

import (
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"threadsfunctions.dev/shared/app"
	"threadsfunctions.dev/shared/config"
)

// Name is the function's entry point and its path in the local runner.
const Name = "thDataDeletion"

// Options are what thDataDeletion needs: the app secret and Firestore.
var Options = app.Options{Needs: config.Needs{AppSecret: true}}

func init() {
	functions.HTTP(Name, app.Lazy(Name, Options, NewHandler))
}

// NewHandler builds the function's handler from an instance's dependencies.
func NewHandler(d *app.Deps) (http.Handler, error) {
	s := &Server{Secret: []byte(d.AppSecret), Store: d.Store, MaxAge: d.Config.SignedRequestMaxAge, StatusURL: d.Config.DataDeletionStatusURL}
	rt := d.Route(http.MethodPost, http.MethodGet)
	rt.AllowOrigin = nil // Meta's servers and a user's browser navigating: no CORS
	return rt.Handler(s.Handle), nil
}
