package thdatadeletion

import (
	"time"

	"threadsfunctions.dev/shared/signedrequest"
)

// DeletionKey is the retry key thDataDeletion records a request under
// (deletionKey), for the tests.
func DeletionKey(threadsID string, issued time.Time) string {
	return deletionKey(&signedrequest.Payload{UserID: threadsID, IssuedAt: issued})
}
