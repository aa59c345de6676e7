// Package thpublish is the thPublish Cloud Function: it publishes posts to a
// user's connected Threads account.
//
// Publishing itself arrives with its own issue; until then the function is
// registered, authenticates its caller and answers 501 "not_implemented".
package thpublish

import (
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"threadsfunctions.dev/shared/app"
	"threadsfunctions.dev/shared/config"
	"threadsfunctions.dev/shared/httpx"
)

// Name is the function's entry point and its path in the local runner.
const Name = "thPublish"

// CodeNotImplemented is answered until publishing is built.
const CodeNotImplemented = "not_implemented"

// Options are what thPublish needs from its instance.
var Options = app.Options{Needs: config.Needs{Tokens: true, Graph: true}, Auth: true}

func init() {
	functions.HTTP(Name, app.Lazy(Name, Options, NewHandler))
}

// NewHandler builds the function's handler from an instance's dependencies.
func NewHandler(d *app.Deps) (http.Handler, error) {
	return d.Route(http.MethodPost).Handler(func(w http.ResponseWriter, r *http.Request) error {
		if _, err := d.Auth.Verify(r.Context(), r); err != nil {
			return err
		}
		return httpx.Errorf(http.StatusNotImplemented, CodeNotImplemented, "publishing is not available yet")
	}), nil
}
