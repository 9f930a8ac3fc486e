// Package docsection replaces a generated section of a document (README tables, the timing report) between its
// begin and end markers, leaving the rest as written.
package docsection

import (
	"fmt"
	"strings"
)

// Replace returns doc with the text between begin's line and end replaced by body (which ends with a newline).
func Replace(doc, begin, end, body string) (string, error) {
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		return "", fmt.Errorf("no %s ... %s section", begin, end)
	}
	return doc[:i+len(begin)] + "\n" + body + doc[j:], nil
}
