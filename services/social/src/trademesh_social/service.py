"""The SocialService gRPC API: requests to use cases, records to messages, refusals to status
codes (a rate-limit refusal carries `retry-after` in its trailing metadata)."""

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import grpc

from trademesh.social.v1 import social_pb2, social_pb2_grpc
from trademesh_social.errors import (
    InvalidRequest,
    PostNotFound,
    RateLimited,
    SocialError,
    Unavailable,
)
from trademesh_social.feed import SocialFeed
from trademesh_social.records import Comment, Post, SentimentBucket
from trademesh_social.rendering import render_html

RETRY_AFTER_METADATA = "retry-after"
_INTERVALS = {
    social_pb2.SENTIMENT_INTERVAL_UNSPECIFIED: "hour",
    social_pb2.SENTIMENT_INTERVAL_HOUR: "hour",
    social_pb2.SENTIMENT_INTERVAL_DAY: "day",
}
_INTERVAL_ENUMS = {
    "hour": social_pb2.SENTIMENT_INTERVAL_HOUR,
    "day": social_pb2.SENTIMENT_INTERVAL_DAY,
}


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _moment(us: int) -> datetime | None:
    if not us:
        return None
    try:
        return datetime.fromtimestamp(us / 1_000_000, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidRequest(f"time {us} µs is outside years 1-9999") from None


def post_message(post: Post) -> social_pb2.Post:
    return social_pb2.Post(
        post_id=post.post_id,
        user_id=post.user_id,
        symbol=post.symbol,
        text=post.text,
        html=render_html(post.text),
        cashtags=post.cashtags,
        sentiment=post.sentiment,
        like_count=post.like_count,
        comment_count=post.comment_count,
        created_at_us=_us(post.created_at),
    )


def comment_message(comment: Comment) -> social_pb2.Comment:
    return social_pb2.Comment(
        comment_id=comment.comment_id,
        post_id=comment.post_id,
        user_id=comment.user_id,
        text=comment.text,
        html=render_html(comment.text),
        cashtags=comment.cashtags,
        sentiment=comment.sentiment,
        created_at_us=_us(comment.created_at),
    )


def _bucket_message(bucket: SentimentBucket) -> social_pb2.SentimentBucket:
    return social_pb2.SentimentBucket(
        start_us=_us(bucket.start),
        post_count=bucket.post_count,
        mean_sentiment=bucket.mean_sentiment,
        positive_count=bucket.positive_count,
        negative_count=bucket.negative_count,
    )


@asynccontextmanager
async def _refusals_as_status(context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
    try:
        yield
    except RateLimited as error:
        # Whole seconds, rounded up, as HTTP's Retry-After wants them.
        wait = str(max(1, math.ceil(error.retry_after_seconds)))
        await context.abort(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            error.reason,
            trailing_metadata=((RETRY_AFTER_METADATA, wait),),
        )
    except InvalidRequest as error:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, error.reason)
    except PostNotFound as error:
        await context.abort(grpc.StatusCode.NOT_FOUND, error.reason)
    except Unavailable as error:
        await context.abort(grpc.StatusCode.UNAVAILABLE, error.reason)
    except SocialError as error:
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION, error.reason)


class SocialServicer(social_pb2_grpc.SocialServiceServicer):
    def __init__(self, feed: SocialFeed) -> None:
        self._feed = feed

    async def CreatePost(
        self, request: social_pb2.CreatePostRequest, context: grpc.aio.ServicerContext
    ) -> social_pb2.Post:
        async with _refusals_as_status(context):
            post = await self._feed.create_post(request.user_id, request.symbol, request.text)
        return post_message(post)

    async def ListPosts(
        self, request: social_pb2.ListPostsRequest, context: grpc.aio.ServicerContext
    ) -> social_pb2.ListPostsResponse:
        async with _refusals_as_status(context):
            page = await self._feed.list_posts(request.symbol, request.limit, request.page_token)
        return social_pb2.ListPostsResponse(
            posts=[post_message(post) for post in page.items],
            next_page_token=page.next_page_token,
        )

    async def CreateComment(
        self, request: social_pb2.CreateCommentRequest, context: grpc.aio.ServicerContext
    ) -> social_pb2.Comment:
        async with _refusals_as_status(context):
            comment = await self._feed.create_comment(
                request.user_id, request.post_id, request.text
            )
        return comment_message(comment)

    async def ListComments(
        self, request: social_pb2.ListCommentsRequest, context: grpc.aio.ServicerContext
    ) -> social_pb2.ListCommentsResponse:
        async with _refusals_as_status(context):
            page = await self._feed.list_comments(
                request.post_id, request.limit, request.page_token
            )
        return social_pb2.ListCommentsResponse(
            comments=[comment_message(comment) for comment in page.items],
            next_page_token=page.next_page_token,
        )

    async def LikePost(
        self, request: social_pb2.LikePostRequest, context: grpc.aio.ServicerContext
    ) -> social_pb2.LikePostResponse:
        async with _refusals_as_status(context):
            count, newly = await self._feed.like(request.user_id, request.post_id)
        return social_pb2.LikePostResponse(
            post_id=request.post_id, like_count=count, newly_liked=newly
        )

    async def GetSentiment(
        self, request: social_pb2.GetSentimentRequest, context: grpc.aio.ServicerContext
    ) -> social_pb2.GetSentimentResponse:
        async with _refusals_as_status(context):
            interval = _INTERVALS.get(request.interval)
            if interval is None:
                raise InvalidRequest(f"unknown sentiment interval {request.interval}")
            sentiment = await self._feed.sentiment(
                request.symbol, interval, _moment(request.from_us), _moment(request.to_us)
            )
        return social_pb2.GetSentimentResponse(
            symbol=sentiment.symbol,
            interval=_INTERVAL_ENUMS[sentiment.interval],
            from_us=_us(sentiment.start),
            to_us=_us(sentiment.end),
            post_count=sentiment.post_count,
            mean_sentiment=sentiment.mean_sentiment,
            buckets=[_bucket_message(bucket) for bucket in sentiment.buckets],
        )
