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

// Package broadcast holds a value and tells subscribers when it changes. The
// driver's CA bundle source and the trust domain configuration source both
// build on it.
package broadcast

import "sync"

// Value is a value of type T that subscribers follow. The zero Value is not
// usable: call New.
type Value[T any] struct {
	equal func(a, b T) bool

	mu   sync.RWMutex
	v    T
	subs []chan struct{}
}

// New returns a Value holding initial; equal tells whether a new value is a
// change worth notifying.
func New[T any](initial T, equal func(a, b T) bool) *Value[T] {
	return &Value[T]{v: initial, equal: equal}
}

// Get returns the current value.
func (b *Value[T]) Get() T {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.v
}

// Subscribe returns a channel that receives a value every time the value
// changes. Sending never blocks the setter: notifications coalesce, so a
// subscriber reads the current value with Get after each one.
func (b *Value[T]) Subscribe() <-chan struct{} {
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	b.subs = append(b.subs, ch)
	b.mu.Unlock()
	return ch
}

// Set stores v and, when it differs from the previous value, notifies the
// subscribers. It reports whether the value changed.
func (b *Value[T]) Set(v T) bool {
	b.mu.Lock()
	changed := !b.equal(b.v, v)
	b.v = v
	subs := b.subs
	b.mu.Unlock()
	if changed {
		for _, ch := range subs {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
	return changed
}
