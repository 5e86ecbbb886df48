"""The realtime marketplace server: aiohttp + Socket.IO over MongoDB."""
