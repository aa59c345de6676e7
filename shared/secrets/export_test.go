package secrets

import "time"

// SetFetchTimeout shortens the bound of each fetch, for tests of an outage.
func SetFetchTimeout(s *SecretManager, d time.Duration) { s.timeout = d }
