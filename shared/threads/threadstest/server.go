package threadstest

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
)

// New returns a fake for one app that is not listening anywhere: serve
// Handler from a server of your own, as the Threads simulator
// (tools/threadsim) does. Its embedded *httptest.Server is nil, so URL and
// Close are not available; everything else works as with Start, which is
// New plus a test server closed at cleanup.
func New(appID, appSecret, redirectURI string) *Server {
	s := &Server{
		AppID: appID, AppSecret: appSecret, RedirectURI: redirectURI,
		stop:  make(chan struct{}),
		codes: map[string]User{}, short: map[string]User{}, long: map[string]User{},
		revoked: map[string]bool{}, failures: map[string]Failure{},
		failNext: map[string]failNext{}, dropNext: map[string]int{}, calls: map[string]int{},
		pub:   newPublishing(),
		users: map[string]User{},
	}
	s.handler = s.routes()
	return s
}

// Handler serves every endpoint of the fake (see the package
// documentation), at the paths of the Graph API. The same handler is
// returned on every call.
func (s *Server) Handler() http.Handler {
	return s.handler
}

// Accounts returns the users known to the fake, sorted by id: every user an
// authorization code (IssueCode) or an account (AddAccount) was issued to,
// whether or not the code was used. When several users with the same id
// were issued, the latest wins.
func (s *Server) Accounts() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b User) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Container is a media container as the fake holds it.
type Container struct {
	// ID is the container's id; UserID its owner's.
	ID, UserID string
	// MediaType is its media_type.
	MediaType string
	// Status is its current status (IN_PROGRESS, FINISHED, PUBLISHED,
	// ERROR or EXPIRED) and ErrorMessage its error_message, if any.
	Status, ErrorMessage string
	// CarouselItem tells whether it was created with is_carousel_item=true.
	CarouselItem bool
	// Children are the child container ids of a carousel.
	Children []string
	// MediaID is the id of the post published from it, once published.
	MediaID string
	// Params are every parameter it was created with, access_token
	// excluded.
	Params url.Values
}

// Container returns the container with the given id, such as a carousel's
// child, without advancing its processing (unlike a status read). The
// result is a copy.
func (s *Server) Container(id string) (Container, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.pub.containers[id]
	if !ok {
		return Container{}, false
	}
	return Container{
		ID: c.id, UserID: c.userID, MediaType: c.mediaType,
		Status: c.status, ErrorMessage: c.errorMessage, CarouselItem: c.carouselItem,
		Children: slices.Clone(c.children), MediaID: c.mediaID, Params: cloneValues(c.params),
	}, true
}
