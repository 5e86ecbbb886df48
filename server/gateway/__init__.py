"""The Socket.IO side: connection checks and expiry (`dispatch`, `guard`), the event registry (`events`), payload
validation, the names of rooms (`rooms`), the shapes acks and pushes carry (`shapes`) and the protocol doc generator."""
