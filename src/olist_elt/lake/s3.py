"""S3 / MinIO storage backend (boto3), with the same interface as the local folder."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from olist_elt.errors import OlistEltError
from olist_elt.security.exceptions import SecurityError

DENIED = {"AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch"}


class StorageAccessDenied(SecurityError):
    """The object store refused the request for this identity (bucket policy, IAM)."""


class StorageError(OlistEltError):
    """The object store could not be reached or answered with an error."""


class S3Storage:
    """A bucket (optionally under a prefix) as the lake; keys are the lake's keys."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str = "us-east-1",
        prefix: str = "",
        client: Any = None,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            config=Config(
                retries={"max_attempts": 5, "mode": "standard"},
                connect_timeout=10,
                read_timeout=60,
                s3={"addressing_style": "path"},
            ),
        )

    def _key(self, key: str) -> str:
        """The object key in the bucket, refusing keys that escape the lake."""
        parts = key.split("/")
        if key.startswith("/") or ".." in parts:
            raise ValueError(f"key {key!r} escapes the lake root")
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(
        self, what: str, fn: Any, *args: Any, passing: tuple[str, ...] = (), **kwargs: Any
    ) -> Any:
        """Call boto3, turning refusals into StorageAccessDenied and other failures
        into StorageError; an error whose code is in passing is returned, not raised
        (a missing object, a condition that failed)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*args, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in passing:
                return exc
            if code in DENIED:
                raise StorageAccessDenied(
                    f"s3://{self.bucket} refused {what} ({code}): this identity's policy "
                    "does not allow it"
                ) from None
            raise StorageError(f"s3://{self.bucket} {what} failed: {code or exc}") from None
        except BotoCoreError as exc:
            raise StorageError(f"s3://{self.bucket} {what} failed: {exc}") from None

    def put_bytes(self, key: str, data: bytes) -> None:
        """Write bytes under key (S3 puts are atomic)."""
        self._call(
            f"put {key}", self.client.put_object, Bucket=self.bucket, Key=self._key(key), Body=data
        )

    def _get(self, key: str) -> Any | None:
        """get_object's answer (its Body still to read), None when there is no such
        object."""
        from botocore.exceptions import ClientError

        resp = self._call(
            f"get {key}",
            self.client.get_object,
            Bucket=self.bucket,
            Key=self._key(key),
            passing=("404", "NoSuchKey"),
        )
        return None if isinstance(resp, ClientError) else resp

    def read_tagged(self, key: str) -> tuple[bytes, str] | None:
        """An object's bytes and its ETag (None when there is none), for a write that
        changes it only if nobody did meanwhile (put_bytes_if)."""
        resp = self._get(key)
        return None if resp is None else (resp["Body"].read(), resp["ETag"])

    def put_bytes_if(self, key: str, data: bytes, etag: str | None) -> bool:
        """Write bytes under key only if the object still has this ETag (None: only if
        there is no object); False, writing nothing, when another writer changed or
        made it meanwhile (S3's conditional writes: If-Match, If-None-Match)."""
        from botocore.exceptions import ClientError

        condition = {"IfMatch": etag} if etag is not None else {"IfNoneMatch": "*"}
        resp = self._call(
            f"put {key}",
            self.client.put_object,
            Bucket=self.bucket,
            Key=self._key(key),
            Body=data,
            # a record deleted meanwhile (AWS answers If-Match on it with 404): read again
            passing=("PreconditionFailed", "ConditionalRequestConflict", "412", "409")
            + (("NoSuchKey", "404") if etag is not None else ()),
            **condition,
        )
        return not isinstance(resp, ClientError)

    def put_file(self, key: str, source: Path) -> None:
        """Upload a local file under key."""
        with open(source, "rb") as fh:
            self._call(
                f"put {key}",
                self.client.put_object,
                Bucket=self.bucket,
                Key=self._key(key),
                Body=fh,
            )

    def read_bytes(self, key: str) -> bytes:
        """Read an object."""
        resp = self._call(
            f"get {key}", self.client.get_object, Bucket=self.bucket, Key=self._key(key)
        )
        return resp["Body"].read()

    def exists(self, key: str) -> bool:
        """Whether an object exists under key."""
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("404", "NoSuchKey", "NotFound"):
                return False
            if code in DENIED or code == "403":
                raise StorageAccessDenied(f"s3://{self.bucket} refused head {key}") from None
            raise StorageError(f"s3://{self.bucket} head {key} failed: {code}") from None

    def list(self, prefix: str) -> Iterator[str]:
        """Keys under a prefix, sorted."""
        full = self._key(prefix.rstrip("/")) + "/"
        paginator = self.client.get_paginator("list_objects_v2")
        keys: list[str] = []
        pages = self._call(
            f"list {prefix}", lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=full))
        )
        for page in pages:
            for obj in page.get("Contents", []):
                key = obj["Key"]
                keys.append(key[len(self.prefix) + 1 :] if self.prefix else key)
        return iter(sorted(keys))

    def uri(self, key: str) -> str:
        """The s3:// URI an engine reads the object from."""
        return f"s3://{self.bucket}/{self._key(key)}"

    @property
    def lake(self) -> str:
        """The bucket and prefix, at the store's endpoint (two stores may each have a
        bucket of that name)."""
        where = f"s3://{self.bucket}/" + (f"{self.prefix}/" if self.prefix else "")
        return f"{where} at {self.client.meta.endpoint_url}"

    def delete(self, key: str) -> None:
        """Remove one object."""
        self._call(
            f"delete {key}", self.client.delete_object, Bucket=self.bucket, Key=self._key(key)
        )

    def purge(self, key: str) -> None:
        """Remove one object for good (an erasure): every stored version and delete
        marker of the key, since a versioned bucket keeps old bytes otherwise."""
        full = self._key(key)
        paginator = self.client.get_paginator("list_object_versions")
        pages = self._call(
            f"list versions of {key}",
            lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=full)),
        )
        versions = [
            v["VersionId"]
            for page in pages
            for kind in ("Versions", "DeleteMarkers")
            for v in page.get(kind, [])
            if v["Key"] == full
        ]
        for version in versions:
            self._call(
                f"delete a version of {key}",
                self.client.delete_object,
                Bucket=self.bucket,
                Key=full,
                VersionId=version,
            )
        if not versions:
            self.delete(key)

    def copy(self, source_key: str, dest_key: str) -> None:
        """Server-side copy."""
        self._call(
            f"copy {source_key} to {dest_key}",
            self.client.copy_object,
            Bucket=self.bucket,
            Key=self._key(dest_key),
            CopySource={"Bucket": self.bucket, "Key": self._key(source_key)},
        )

    def sha256(self, key: str) -> str:
        """The sha256 of the stored object, streamed back from the store;
        FileNotFoundError when there is none (as a lake folder raises)."""
        resp = self._get(key)
        if resp is None:
            raise FileNotFoundError(f"s3://{self.bucket}/{self._key(key)}")
        digest = hashlib.sha256()
        for chunk in resp["Body"].iter_chunks(8 * 1024 * 1024):
            digest.update(chunk)
        return digest.hexdigest()
