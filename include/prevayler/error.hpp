// Error hierarchy of prevayler-cpp. Every exception the library throws on its
// own account derives from prevayler::Error; exceptions thrown by the user's
// business function reach the caller of handle() unchanged.
//
// Messages name the resource involved (file and offset, table, bucket, key)
// and, where there is one, the remedy. They never contain credentials.
#pragma once

#include <stdexcept>
#include <string>

namespace prevayler {

// Base of every error raised by the library.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Options that cannot work (a missing business function, an empty table
// name, an invalid endpoint URL, ...). Raised before any I/O happens.
class ConfigError : public Error {
 public:
  using Error::Error;
};

// A call on an instance that was closed. After a fatal storage failure a
// call does not get this: the engine rethrows the StorageFailedError (or
// SupersededError) that stopped the instance.
class ClosedError : public Error {
 public:
  using Error::Error;
};

// An event or state the codec could not encode or decode.
class CodecError : public Error {
 public:
  using Error::Error;
};

// An event whose encoded form exceeds the storage's limit for one event.
class EventTooLargeError : public Error {
 public:
  using Error::Error;
};

// Recovery replayed an event whose resulting state hash differs from the
// hash journaled with it: the business function is not pure, or its code
// changed in a way that alters the meaning of old events.
class InconsistentStateError : public Error {
 public:
  using Error::Error;
};

// Recovery could not rebuild the state: the business function threw while
// replaying a journaled event.
class RecoveryError : public Error {
 public:
  using Error::Error;
};

// A failure of the storage (I/O error, full disk, network, service error).
// When the storage throws this from an append, none of the events in that
// append became visible and the instance can go on.
class StorageError : public Error {
 public:
  using Error::Error;
};

// Stored bytes that fail their checksum or do not parse. Never skipped
// silently: the message names the file (or table/key) and offset.
class CorruptionError : public StorageError {
 public:
  using StorageError::StorageError;
};

// Data written with an application schema version this program does not
// read (Prevayler::Options::event_schema_version, state_schema_version,
// event_schema_version_min): a newer release wrote it, or an old event
// would go through business rules that no longer apply to it. Raised
// during recovery, before any state is exposed; the message names the
// version found, the versions this program reads, where, and the remedy.
class SchemaVersionError : public Error {
 public:
  using Error::Error;
};

// Encrypted data (StorageOptions::encryption, docs/encryption.md) that could
// not be decrypted: no key provider is configured, the provider has no key
// for its key id, or its authentication tag does not match (the key given
// for that id is not the one it was written with, or the stored bytes were
// altered). Raised before any of it reaches the codec: never garbage state.
// The message names the key id and the resource (file and offset; table,
// partkey and order; bucket and key), never the key.
class DecryptionError : public Error {
 public:
  using Error::Error;
};

// A file or object written by a format version this build does not know.
class FormatVersionError : public StorageError {
 public:
  using StorageError::StorageError;
};

// The storage is held by another process (the file storage's lock).
class LockedError : public StorageError {
 public:
  using StorageError::StorageError;
};

// The storage can no longer guarantee that the journal equals the live state
// (for example an fsync failed and the unacknowledged bytes could not be cut
// off). The instance stops: every later call fails with this error, and a
// restart recovers exactly what is durable.
class StorageFailedError : public StorageError {
 public:
  using StorageError::StorageError;
};

// Another instance took over the journal. This instance can get no more
// events acknowledged; its writes stop.
class SupersededError : public StorageFailedError {
 public:
  using StorageFailedError::StorageFailedError;
};

// A change asked of an instance that only shows a journal (opened as of a
// point in time, prevayler/point_in_time.hpp): handle(), handle_async() and
// snapshot() throw it before anything runs.
class ReadOnlyError : public Error {
 public:
  using Error::Error;
};

// The state as of a point in time cannot be rebuilt from what is kept:
// retention removed the snapshots or segments it needs, or the point is
// beyond the journal's end. The message names the point, what is kept,
// and the remedy.
class PointInTimeError : public StorageError {
 public:
  using StorageError::StorageError;
};

}  // namespace prevayler
