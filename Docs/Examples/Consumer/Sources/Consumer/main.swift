import CKKS
import Foundation
import HEAR

// The CKKS engine: keys, encrypt a vector, rotate it, multiply, decrypt.
let context = CKKSContext(.standard())  // N = 2^14, 128-bit security
var keys = try KeyGenerator(context: context)
let relinearizationKey = keys.relinearizationKey()
let rotationKeys = keys.galoisKeys(steps: [1])
var encryptor = try Encryptor(context: context, publicKey: keys.publicKey())
let decryptor = try Decryptor(context: context, secretKey: keys.secretKey)
let evaluator = Evaluator(context: context)

let x = (0..<context.slotCount).map { Double($0 % 16) / 16 }
let encrypted = try encryptor.encrypt(x)
let rotated = try evaluator.rotate(encrypted, by: 1, keys: rotationKeys)              // x[i + 1]
let product = try evaluator.rescale(evaluator.multiply(encrypted, rotated, relinearizationKey: relinearizationKey))
let decrypted = try decryptor.decryptReal(product)                                   // x[i] · x[i + 1]
let expected = (0..<context.slotCount).map { x[$0] * x[($0 + 1) % context.slotCount] }
let error = zip(decrypted, expected).map { abs($0 - $1) }.max()!
print("x[i]·x[i+1] for i < 4: " + decrypted.prefix(4).map { String(format: "%.4f", $0) }.joined(separator: " ")
      + String(format: "   (expected %@; max error %.1e)", expected.prefix(4).map { String(format: "%.4f", $0) }.joined(separator: " "), error))

// HEAR: the three parties classify a bundled test clip (clip 164, a fall) on ciphertexts.
let network = try FoldedNetwork(folding: PaperData.bundledModel(named: "cnn2d-64"))
let session = try MonitoringStation.generateKeys(for: network)                   // station: keys
var camera = try Client(publicKey: session.publicKey)                               // client: public key only
let clip = try PaperData.bundledTestSet().sequences[164]
let input = try camera.encrypt(Client.input(for: clip))
let cloud = try CloudServer(network: network, evaluationKeys: session.evaluationKeys)  // cloud: no secret key
let result = try cloud.evaluate(input).result
print("clip 164 (label fall): \(try session.station.decide(result))")
