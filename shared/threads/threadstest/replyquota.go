package threadstest

// SetReplyQuotaUsage sets a user's reply_quota_usage (replies published in
// the window), as SetQuotaUsage does for posts.
func (s *Server) SetReplyQuotaUsage(userID string, used int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pub.replyUsage[userID] = used
}
