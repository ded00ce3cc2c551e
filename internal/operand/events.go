/*
Copyright 2026 The csi-driver-spiffe operator authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package operand

import (
	"strings"
	"unicode/utf8"
)

// MaxEventNote is the longest note, in bytes, an events.k8s.io/v1 Event
// accepts (the API server refuses longer ones).
const MaxEventNote = 1024

// ellipsis marks a note that was cut.
const ellipsis = "…"

// EventNote fits msg into an Event's note: unchanged when it fits, else cut
// to at most MaxEventNote bytes, at a character boundary (never inside a
// UTF-8 sequence), and ended with "…". Invalid UTF-8 in msg is dropped.
func EventNote(msg string) string {
	msg = strings.ToValidUTF8(msg, "")
	if len(msg) <= MaxEventNote {
		return msg
	}
	cut := MaxEventNote - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + ellipsis
}
