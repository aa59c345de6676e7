package threfresh

// Cloud Functions' Go buildpack builds a function whose source has a vendor/
// directory (scripts/bundle makes one) only if the Functions Framework is
// vendored with it. Nothing in the function imports funcframework itself, so
// this blank import keeps it in the module's build list and in vendor/.
import _ "github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
